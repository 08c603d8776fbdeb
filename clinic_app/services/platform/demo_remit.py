"""The demo clinic's money: its past visits claimed (or billed to self-pay patients), the
claims sent, and the payers' answers posted as 835 remittances through the same posting as a
real file (payments, contractual adjustments, patient shares, a few denials); then some
patients pay their share. So the dashboard's money tiles, the denial worklist and the billing
reports show plausible figures in the demo.

Uses a random stream of its own, so the rest of the demo clinic is unchanged by it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from sqlmodel import Session, col, select

from clinic_app.models import Appointment, Charge, Claim, ClaimLine, Coverage, LedgerEntry, Location, Payer, User
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.interop.x12.x12_837 import amount
from clinic_app.services.platform import auth
from clinic_app.services.platform.clock import local_day
from clinic_app.services.revenue import claims, era, ledger
from clinic_app.services.revenue.claims import ClaimProblems

SEED = 2047
ANSWER_DAYS = (2, 4)  # a payer answers an electronic claim this many days after it was sent
DENIAL_SHARE = 0.08
REJECTED_SHARE = 0.04  # refused by the clearinghouse (277CA) before reaching the payer
DENIALS = ["197", "16", "50", "29"]  # authorisation absent, lacks information, not necessary, late
# What each demo payer allows of the clinic's charge, and the patient's share of it:
# (allowed share, co-insurance share of the allowed amount, co-payment per visit in cents).
TERMS = {"MCRB1": (0.72, 0.20, 0), "BLPPO": (0.86, 0.0, 2500), "SMHMO": (0.78, 0.0, 2000)}
PATIENTS_WHO_PAY = 0.6  # of those who owe something, pay it before today


def load(session: Session, *, appointment_ids: list[int], now: dt.datetime) -> dict:
    """Claim (or bill) the demo's past visits in ``appointment_ids``, send the claims, post
    the payers' remittances and some patients' payments. Returns what was made."""
    rnd = random.Random(SEED)
    user = session.exec(select(User).where(User.role == "biller").order_by(User.id)).first()
    biller = auth.actor_for(user)
    insured = set(session.exec(select(Coverage.patient_id)).all())
    sent: list[tuple[Claim, dt.datetime]] = []
    self_pay = 0
    for appointment_id in appointment_ids:
        appointment = session.get(Appointment, appointment_id)
        billed_at = min(now - dt.timedelta(minutes=5), appointment.ends_at + dt.timedelta(hours=rnd.randint(16, 30)))
        if appointment.patient_id not in insured:
            _bill_patient(session, biller, appointment, billed_at)
            self_pay += 1
            continue
        try:
            with session.begin_nested():
                claim = claims.create_claim(session, actor=biller, appointment_id=appointment_id, now=billed_at, notify=False)
        except ClaimProblems:
            continue  # stays in the queue with the scrubber's reasons, as in real life
        sent_at = min(now - dt.timedelta(minutes=4), billed_at + dt.timedelta(hours=2))
        if _send(session, biller, rnd, claim, sent_at, now):
            sent.append((claim, sent_at))
    posted = _remittances(session, biller, rnd, sent, now)
    # The secondary claims the 835s started (Medicare's share paid, the rest to the
    # secondary payer) are sent too: the demo leaves no draft claim for a test to trip on.
    for claim in session.exec(select(Claim).where(Claim.status == "draft").order_by(Claim.id)).all():
        _send(session, biller, rnd, claim, min(now - dt.timedelta(minutes=3), claim.created_at + dt.timedelta(hours=1)), now,
              reject=False)
    paid = _patient_payments(session, biller, rnd, now)
    return {"claims": len(sent), "self_pay": self_pay, **posted, "patient_payments": paid}


def _bill_patient(session: Session, biller, appointment: Appointment, at: dt.datetime) -> None:
    """A self-pay visit billed to the patient at ``at`` (as the billing queue's self-pay action
    does, dated in the demo's time rather than now, so that ``demo --now`` stays whole)."""
    charges = session.exec(select(Charge).where(Charge.appointment_id == appointment.id)).all()
    location = session.get(Location, appointment.location_id)
    session.add(LedgerEntry(
        patient_id=appointment.patient_id, appointment_id=appointment.id, kind="charge",
        amount_cents=sum(c.amount_cents for c in charges), user_id=biller.user_id, created_at=at,
        service_date=local_day(appointment.starts_at, location.timezone), reason="billed to patient",
    ))
    session.flush()
    scheduling.transition(session, actor=biller, appointment_id=appointment.id, to_status="billed", now=at)


def _send(session: Session, biller, rnd: random.Random, claim: Claim, sent_at: dt.datetime, now: dt.datetime, *,
          reject: bool = True) -> bool:
    """Send a claim and take the clearinghouse's answer (277CA): accepted, or now and then
    rejected (it then waits on the worklist, unpaid). True when accepted."""
    claims.set_status(session, actor=biller, claim_id=claim.id, to_status="submitted", now=sent_at)
    answered = min(now - dt.timedelta(minutes=2), sent_at + dt.timedelta(minutes=30))
    if reject and rnd.random() < REJECTED_SHARE:
        claims.set_status(session, actor=biller, claim_id=claim.id, to_status="rejected", now=answered,
                          note="277CA: A7 subscriber ID not found (demo)")
        return False
    claims.set_status(session, actor=biller, claim_id=claim.id, to_status="accepted", now=answered, note="277CA: A1 (demo)")
    return True


def _remittances(session: Session, biller, rnd: random.Random, sent: list[tuple[Claim, dt.datetime]], now: dt.datetime) -> dict:
    """One 835 per payer and answer day, for the claims sent long enough ago."""
    files: dict[tuple[int, dt.date], list[Claim]] = defaultdict(list)
    for claim, sent_at in sent:
        answered = sent_at + dt.timedelta(days=rnd.randint(*ANSWER_DAYS), hours=rnd.randint(0, 3))
        if answered < now:
            files[(claim.payer_id, answered.date())].append(claim)
    count = denied = paid = 0
    for n, ((payer_id, day), batch) in enumerate(sorted(files.items()), start=1):
        payer = session.get(Payer, payer_id)
        text = remittance(session, payer, batch, day, control=900 + n, rnd=rnd)
        at = min(now - dt.timedelta(minutes=1), dt.datetime.combine(day, dt.time(15), tzinfo=dt.UTC))
        summary = era.post(session, actor=biller, text=text, now=at)
        count += summary["claims"]
        denied += summary["denied"]
        paid += summary["paid_cents"]
    return {"remittances": len(files), "claims_answered": count, "claims_denied": denied, "insurance_paid_cents": paid}


def remittance(session: Session, payer: Payer, batch: list[Claim], day: dt.date, *, control: int, rnd: random.Random) -> str:
    """An 835 as the demo payer would send it for ``batch`` (balanced, one line per claim line)."""
    share, coinsurance, copay = TERMS.get(payer.payer_id, (0.8, 0.2, 0))
    body, total = [], 0
    for claim in batch:
        lines = session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(col(ClaimLine.line_no))).all()
        if rnd.random() < DENIAL_SHARE:
            reason = rnd.choice(DENIALS)
            body += [f"CLP*{claim.number}*4*{amount(claim.total_cents)}*0**12*DN{claim.id:06d}",
                     f"CAS*CO*{reason}*{amount(claim.total_cents)}", f"NM1*QC*1*PATIENT*DEMO****MI*M{claim.patient_id:07d}"]
            continue
        segments, claim_paid, claim_patient, copay_left = [], 0, 0, copay
        for line in lines:
            allowed = round(line.amount_cents * share)
            patient = min(allowed, round(allowed * coinsurance) + copay_left)
            copay_left = max(0, copay_left - patient)
            paid = allowed - patient
            segments.append(f"SVC*HC:{':'.join([line.code, *[m for m in line.modifiers.split(',') if m]][:5])}"
                            f"*{amount(line.amount_cents)}*{amount(paid)}**{line.units}")
            segments.append(f"DTM*472*{claim.service_date:%Y%m%d}")
            adjustments = [f"CO*45*{amount(line.amount_cents - allowed)}"] if line.amount_cents > allowed else []
            if patient:
                adjustments.append(f"PR*{'2' if coinsurance else '3'}*{amount(patient)}")
            segments += [f"CAS*{a}" for a in adjustments]
            segments.append(f"REF*6R*{line.id}")
            claim_paid += paid
            claim_patient += patient
        body += [f"CLP*{claim.number}*1*{amount(claim.total_cents)}*{amount(claim_paid)}*"
                 f"{amount(claim_patient) if claim_patient else ''}*12*PC{claim.id:06d}",
                 f"NM1*QC*1*PATIENT*DEMO****MI*M{claim.patient_id:07d}", *segments]
        total += claim_paid
    head = [
        "ST*835*0001", f"BPR*I*{amount(total)}*C*ACH************{day:%Y%m%d}", f"TRN*1*DEMO{control}*1512345678",
        f"DTM*405*{day:%Y%m%d}", f"N1*PR*{payer.name.upper()[:60]}", "N3*PO BOX 1", "N4*HARTFORD*CT*06101",
        "N1*PE*DEMO CLINIC*XX*1245319599", "LX*1",
    ]
    transaction = [*head, *body]
    transaction.append(f"SE*{len(transaction) + 1}*0001")
    isa = (f"ISA*00*          *00*          *ZZ*{payer.payer_id:<15}*ZZ*CLINICAPP      *{day:%y%m%d}*1500*^*00501*"
           f"{control:09d}*0*P*:")
    rows = [isa, f"GS*HP*{payer.payer_id}*CLINICAPP*{day:%Y%m%d}*1500*{control}*X*005010X221A1", *transaction,
            f"GE*1*{control}", f"IEA*1*{control:09d}"]
    return "~\n".join(rows) + "~\n"


def _patient_payments(session: Session, biller, rnd: random.Random, now: dt.datetime) -> int:
    """Some patients pay what they owe (their share after insurance, or a self-pay visit)."""
    made = 0
    for patient_id in sorted(set(session.exec(select(Appointment.patient_id).where(Appointment.status == "billed")).all())):
        owed = ledger.balances(session, patient_id=patient_id)["patient"]
        if owed <= 0 or rnd.random() > PATIENTS_WHO_PAY:
            continue
        when = now - dt.timedelta(minutes=rnd.randint(2, 120))
        method = rnd.choice(["card", "card", "cash", "cheque"])
        ledger.take_payment(session, actor=biller, patient_id=patient_id, amount=owed, method=method,
                            reference=f"DEMO{patient_id:05d}" if method != "cash" else "", now=when)
        made += 1
    return made
