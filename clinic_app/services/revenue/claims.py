"""Claims: scrubbing a visit, turning ready-to-bill visits into claims, the claim
status lifecycle with its history, and exporting 837P files.

A claim is created only from a visit that passes the scrubber; the visit becomes
billed and its charges go on the patient's ledger as owed by the payer, all in one
transaction. Export writes the draft (and corrected) claims to X12 and marks them
submitted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.live import ClaimsChanged, publish_on_commit
from clinic_app.models import (
    Appointment,
    BillingProfile,
    CareCase,
    CaseVisit,
    Charge,
    Claim,
    ClaimDiagnosis,
    ClaimEvent,
    ClaimLine,
    Coverage,
    LedgerEntry,
    Location,
    Note,
    Patient,
    Payer,
    Provider,
)
from clinic_app.services.charting import charting, timed_units
from clinic_app.services.charting.charting import diagnoses
from clinic_app.services.charting.codes import normalise_icd10, npi_is_valid
from clinic_app.services.frontdesk import cases, scheduling
from clinic_app.services.interop.x12 import x12_837, x12_validate
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local_day
from clinic_app.services.platform.errors import ClinicError, IllegalTransition, InvalidInput, NotFound
from clinic_app.services.platform.money import amount
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import cob, payers, pricing, repricing

MAX_DIAGNOSES = 12
MAX_POINTERS = 4

# Which status may follow which. Submitted claims are accepted or rejected by the
# clearinghouse, then paid or denied by the payer (835); a denial can be appealed;
# a rejected or denied claim can be corrected and sent again.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"submitted"}),
    "submitted": frozenset({"accepted", "rejected", "paid", "denied"}),
    "accepted": frozenset({"paid", "denied"}),
    "rejected": frozenset({"submitted"}),
    "denied": frozenset({"appealed", "submitted"}),
    "appealed": frozenset({"paid", "denied"}),
    "paid": frozenset(),
}
STATUS_LABELS = {
    "draft": "Draft", "submitted": "Submitted", "accepted": "Accepted", "rejected": "Rejected",
    "denied": "Denied", "paid": "Paid", "appealed": "Appealed",
}
# Claims that go into the next export file.
READY_TO_SEND = ("draft",)


def announce(session: Session, what: str) -> None:
    """Tell every open billing page that claims or balances changed, once the caller commits."""
    publish_on_commit(session, ClaimsChanged(what=what))


class ClaimProblems(InvalidInput):
    """The scrubber found problems; each message says what to fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("This visit cannot be claimed yet: " + " ".join(problems))


@dataclass
class VisitFacts:
    """Everything the scrubber and the claim need about one visit."""

    appointment: Appointment
    patient: Patient
    provider: Provider
    location: Location
    profile: BillingProfile | None
    service_date: dt.date
    diagnoses: list[str]
    charges: list[Charge]
    coverage: Coverage | None
    secondary: Coverage | None
    payer: Payer | None
    # Problems found by rules that need the database (timed units, authorisation).
    visit_problems: list[str]


def _unit_problems(session: Session, note: Note | None, charges: list[Charge]) -> list[str]:
    """Timed lines whose billed units disagree with the minutes recorded on the note."""
    if note is None:
        return []

    minutes = {p.code: p.minutes for p in charting.procedures(session, note_id=note.id) if p.minutes}
    suggested = charting.suggested_units(session, note_id=note.id)
    rule = timed_units.RULES.get(settings.TIMED_UNIT_RULE, settings.TIMED_UNIT_RULE)
    total = sum(minutes.get(code, 0) for code in suggested)
    return [
        f"Line {c.line_no} ({c.code}): units inconsistent with minutes: {c.units} unit(s) billed for "
        f"{minutes[c.code]} minute(s), but under the {rule} ({total} timed minute(s) in the visit) they "
        f"support {suggested[c.code]}; the clinician must correct the units or minutes by addendum."
        for c in charges
        if c.code in suggested and suggested[c.code] != c.units
    ]


def _authorisation_problems(session: Session, appointment_id: int) -> list[str]:
    """The visit's episode of care has no authorised visits left, or its authorisation has expired."""

    warning = cases.authorization_warnings(session, appointment_ids=[appointment_id]).get(appointment_id)
    if warning is None:
        return []
    case = session.exec(
        select(CareCase).join(CaseVisit, CaseVisit.case_id == CareCase.id).where(CaseVisit.appointment_id == appointment_id)
    ).one()
    what = "authorisation exhausted" if warning.startswith("Visit ") else "authorisation expired or not yet valid"
    return [
        f"Episode '{case.title}': {what} ({warning}); ask the payer for more visits or new dates and update "
        "the episode, or bill the patient instead."
    ]


def _pricing_problems(session: Session, charges: list[Charge], coverage: Coverage | None) -> list[str]:
    """Lines priced from another schedule than the claim payer's (e.g. signed while the patient
    was self-pay, the insurance recorded later and the visit not re-priced)."""

    payer = session.get(Payer, coverage.payer_id) if coverage else None
    return repricing.pricing_problems(session, charges=charges, payer=payer)


def _facts(session: Session, appointment_id: int) -> VisitFacts:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That visit no longer exists.")
    location = session.get(Location, appointment.location_id)
    day = local_day(appointment.starts_at, location.timezone)
    note = session.exec(select(Note).where(Note.appointment_id == appointment_id)).first()
    charges = list(session.exec(select(Charge).where(Charge.appointment_id == appointment_id).order_by(Charge.line_no)))
    dx: list[str] = []
    for c in charges:  # claim order: as the note listed them, via the charges' pointers
        dx.extend(code for code in c.diagnosis_codes.split(",") if code and code not in dx)
    if note is not None:
        dx.extend(d.code for d in diagnoses(session, note_id=note.id) if d.code not in dx)
    coverage = pricing.coverage_on(session, patient_id=appointment.patient_id, day=day)
    return VisitFacts(
        appointment=appointment,
        patient=session.get(Patient, appointment.patient_id),
        provider=session.get(Provider, appointment.provider_id),
        location=location,
        profile=session.exec(select(BillingProfile).where(BillingProfile.location_id == location.id)).first(),
        service_date=day,
        diagnoses=dx,
        charges=charges,
        coverage=coverage,
        secondary=pricing.coverage_on(session, patient_id=appointment.patient_id, day=day, priority=2),
        payer=session.get(Payer, coverage.payer_id) if coverage else None,
        visit_problems=_unit_problems(session, note, charges) + _authorisation_problems(session, appointment_id)
        + _pricing_problems(session, charges, coverage),
    )


def _scrub(facts: VisitFacts, modifiers: dict[int, str]) -> list[str]:
    problems: list[str] = []
    profile = facts.profile
    if profile is None:
        problems.append(f"{facts.location.name} has no billing profile; an admin must enter its billing NPI, tax id and address.")
    else:
        if not profile.npi:
            problems.append(f"The billing NPI of {facts.location.name} is missing; enter it in the billing profile.")
        elif not npi_is_valid(profile.npi):
            problems.append(f"The billing NPI {profile.npi} fails its check digit; correct it in the billing profile.")
        if len(profile.tax_id) != 9:
            problems.append(f"The tax id (EIN) of {facts.location.name} is missing; enter it in the billing profile.")
    npi = facts.provider.npi or ""
    if not npi:
        problems.append(f"{facts.provider.name} has no rendering NPI; add it to the provider record.")
    elif not npi_is_valid(npi):
        problems.append(f"{facts.provider.name}'s NPI {npi} fails its check digit; correct the provider record.")
    if facts.coverage is None:
        problems.append(
            f"{facts.patient.last_name}, {facts.patient.first_name} has no active coverage on {facts.service_date}; "
            "record the insurance or bill the patient instead."
        )
    elif facts.coverage.relationship != "self" and not facts.coverage.address:
        problems.append("The patient is a dependent and the coverage has no subscriber address; complete the coverage.")
    if not facts.diagnoses:
        problems.append("The visit has no diagnosis; the clinician must add one by addendum.")
    for code in facts.diagnoses:
        try:
            normalise_icd10(code)
        except InvalidInput as exc:
            problems.append(f"Diagnosis {code}: {exc}")
    if len(facts.diagnoses) > MAX_DIAGNOSES:
        problems.append(f"A claim holds at most {MAX_DIAGNOSES} diagnoses; this visit has {len(facts.diagnoses)}.")
    if not facts.charges:
        problems.append("The visit has no charges to claim.")
    for c in facts.charges:
        pointed = [code for code in c.diagnosis_codes.split(",") if code]
        if not pointed:
            problems.append(f"Line {c.line_no} ({c.code}) points at no diagnosis; each service line needs at least one.")
        elif len(pointed) > MAX_POINTERS:
            problems.append(f"Line {c.line_no} ({c.code}) points at more than {MAX_POINTERS} diagnoses.")
        try:
            payers.parse_modifiers(modifiers.get(c.line_no, ""))
        except InvalidInput as exc:
            problems.append(f"Line {c.line_no} ({c.code}): {exc}")
    return problems + facts.visit_problems


def scrub(session: Session, *, actor: Actor, appointment_id: int, modifiers: dict[int, str] | None = None) -> list[str]:
    """What stops this visit going out as a claim, each as a message a biller can act on."""
    require(actor.role, "billing.view")
    return _scrub(_facts(session, appointment_id), modifiers or {})


def _line_modifiers(payer: Payer, extra: str, captured: str = "") -> str:
    """A claim line's modifiers: those captured with the charge (the clinician's, CQ/CO), the
    biller's, then the payer's defaults; each once, four at most."""
    mods: list[str] = []
    for m in [*captured.split(","), *payers.parse_modifiers(extra).split(",")]:
        if m and m not in mods:
            mods.append(m)
    for m in payer.default_modifiers.split(","):
        if m and m not in mods:
            mods.append(m)
    return payers.parse_modifiers(",".join(mods[:4]))


def create_claim(
    session: Session, *, actor: Actor, appointment_id: int, modifiers: dict[int, str] | None = None,
    now: dt.datetime | None = None, notify: bool = True,
) -> Claim:
    """Turn a ready-to-bill visit into a draft claim to its primary payer; the visit becomes billed."""
    for_write(session)
    require(actor.role, "billing.claims")
    modifiers = modifiers or {}
    facts = _facts(session, appointment_id)
    if facts.appointment.status != "ready_to_bill":
        raise IllegalTransition(
            f"The visit is {scheduling.STATUS_LABELS[facts.appointment.status]}; only visits ready to bill can be claimed."
        )
    problems = _scrub(facts, modifiers)
    if problems:
        raise ClaimProblems(problems)
    now = now or utcnow()
    total = sum(c.amount_cents for c in facts.charges)
    claim = Claim(
        number=f"V{facts.appointment.id}-{now:%y%m%d%H%M%S}",
        appointment_id=facts.appointment.id, patient_id=facts.patient.id, payer_id=facts.payer.id,
        coverage_id=facts.coverage.id, secondary_coverage_id=facts.secondary.id if facts.secondary else None,
        service_date=facts.service_date, total_cents=total, created_at=now,
    )
    session.add(claim)
    session.flush()
    codes = [normalise_icd10(code) for code in facts.diagnoses]
    session.add_all(ClaimDiagnosis(claim_id=claim.id, position=i, code=code) for i, code in enumerate(codes, start=1))
    for c in facts.charges:
        pointers = [str(codes.index(normalise_icd10(code)) + 1) for code in c.diagnosis_codes.split(",") if code]
        session.add(
            ClaimLine(
                claim_id=claim.id, charge_id=c.id, line_no=c.line_no, code=c.code,
                modifiers=_line_modifiers(facts.payer, modifiers.get(c.line_no, ""), c.modifiers),
                units=c.units, amount_cents=c.amount_cents, pointers=",".join(pointers),
            )
        )
    session.add(ClaimEvent(claim_id=claim.id, to_status="draft", user_id=actor.user_id, at=now, note="claim created"))
    session.add(
        LedgerEntry(
            patient_id=facts.patient.id, payer_id=facts.payer.id, appointment_id=facts.appointment.id,
            claim_id=claim.id, kind="charge", amount_cents=total, service_date=facts.service_date,
            user_id=actor.user_id, reason=f"claim {claim.number}", created_at=now,
        )
    )
    audit.record(session, actor=actor, action="create", entity="claim", entity_id=claim.id, patient_id=facts.patient.id)
    session.flush()
    # Commits the claim, its lines and the ledger charge with the visit's move to billed.
    scheduling.transition(session, actor=actor, appointment_id=facts.appointment.id, to_status="billed", now=now)
    if notify:
        announce(session, f"claim {claim.number} created")
    return claim


def create_claims(session: Session, *, actor: Actor, location_id: int) -> tuple[list[Claim], dict[int, list[str]]]:
    """Batch: claim every ready-to-bill visit of a location that passes the scrubber.

    Returns the claims made and, per visit left in the queue, what stops it.
    """
    for_write(session)
    require(actor.role, "billing.claims")
    ids = list(
        session.exec(
            select(Appointment.id).where(Appointment.location_id == location_id, Appointment.status == "ready_to_bill")
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )
    made, held = [], {}
    for appointment_id in ids:
        try:
            with session.begin_nested():  # a visit that cannot be claimed leaves nothing behind
                made.append(create_claim(session, actor=actor, appointment_id=appointment_id, notify=False))
        except ClaimProblems as exc:
            held[appointment_id] = exc.problems
        except ClinicError as exc:
            held[appointment_id] = [str(exc)]
    if made:
        announce(session, f"{len(made)} claims created")
    return made, held


def set_status(
    session: Session, *, actor: Actor, claim_id: int, to_status: str, note: str = "", now: dt.datetime | None = None,
) -> Claim:
    """Move a claim along its lifecycle, keeping the step in its history."""
    for_write(session)
    require(actor.role, "billing.claims")
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise NotFound("That claim no longer exists.")
    move_claim(session, claim, to_status, actor=actor, note=note, now=now)
    session.flush()
    announce(session, f"claim {claim.number} {to_status}")
    return claim


def move_claim(session: Session, claim: Claim, to_status: str, *, actor: Actor | None, note: str = "", now: dt.datetime | None = None) -> None:
    """Move a claim along its state machine (IllegalTransition otherwise), recording the event; the caller commits."""
    if to_status not in TRANSITIONS.get(claim.status, frozenset()):
        raise IllegalTransition(
            f"Claim {claim.number} is {STATUS_LABELS[claim.status]}; it cannot become {STATUS_LABELS.get(to_status, to_status)}."
        )
    session.add(
        ClaimEvent(
            claim_id=claim.id, from_status=claim.status, to_status=to_status,
            user_id=actor.user_id if actor else None, at=now or utcnow(), note=note[:200],
        )
    )
    if to_status == "submitted":
        claim.submit_count += 1
    claim.status = to_status
    session.add(claim)


def history(session: Session, *, claim_id: int) -> list[ClaimEvent]:
    """A claim's status changes, oldest first."""
    return list(session.exec(select(ClaimEvent).where(ClaimEvent.claim_id == claim_id).order_by(ClaimEvent.id)))


def resubmit(session: Session, *, actor: Actor, claim_id: int, modifiers: dict[int, str] | None = None, note: str = "") -> Claim:
    """Correct a rejected or denied claim's line modifiers and queue it for the next export."""
    for_write(session)
    require(actor.role, "billing.claims")
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise NotFound("That claim no longer exists.")
    if claim.status not in ("rejected", "denied"):
        raise IllegalTransition(f"Claim {claim.number} is {STATUS_LABELS[claim.status]}; only rejected or denied claims are corrected.")
    for line in session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id)):
        if line.line_no in (modifiers or {}):
            line.modifiers = payers.parse_modifiers(modifiers[line.line_no])
            session.add(line)
    if claim.status == "denied":
        # The payer adjudicated it: the corrected claim replaces theirs (frequency 7).
        # A rejected claim never reached the payer and goes again as an original.
        claim.frequency = "7"
    session.add(ClaimEvent(claim_id=claim.id, from_status=claim.status, to_status="draft", user_id=actor.user_id, note=(note or "corrected")[:200]))
    claim.status = "draft"
    session.add(claim)
    session.flush()
    announce(session, f"claim {claim.number} corrected")
    return claim


def claims_to_send(session: Session) -> list[Claim]:
    """Draft claims, oldest first: what the next export writes."""
    return list(session.exec(select(Claim).where(Claim.status.in_(READY_TO_SEND)).order_by(Claim.id)))


def payer_files(
    session: Session, claims: list[Claim], *, control_of, now: dt.datetime, refused: str
) -> list[tuple[str, str, Payer]]:
    """One 837P per payer of ``claims`` (file name, text, payer), each checked by pyx12; the
    ``n``-th file's control number (ISA13/GS06) is ``control_of(n)`` and its claims keep it, as a
    999 cites it. A file that fails validation rolls back and raises InvalidInput saying ``refused``."""
    by_payer: dict[int, list[Claim]] = {}
    for claim in claims:
        by_payer.setdefault(claim.payer_id, []).append(claim)
    files = []
    for n, (payer_id, group) in enumerate(sorted(by_payer.items()), start=1):
        control = control_of(n)
        text = x12_837.render(session, claims=group, control_number=control, now=now)
        problems = x12_validate.validate(text)
        if problems:
            raise InvalidInput(f"The 837P file failed validation, so {refused}: {'; '.join(problems[:3])}")
        payer = session.get(Payer, payer_id)
        files.append((f"837P-{payer.payer_id}-{now:%Y%m%d%H%M%S}-{control}.x12", text, payer))
        for claim in group:
            claim.batch_control = str(control % 1_000_000_000)
            session.add(claim)
    return files


def export_files(session: Session, *, actor: Actor, now: dt.datetime | None = None) -> list[tuple[str, str]]:
    """The 837P files (name, text) of the claims ready to send, one per payer; the claims become submitted.

    Every file is checked by pyx12 first: if one fails, nothing is marked and the
    error says what the validator found.
    """
    files, claims = _export_files(session, actor=actor, now=now)
    if claims:
        announce(session, f"{len(claims)} claims submitted")
    return files


def _export_files(session: Session, *, actor: Actor, now: dt.datetime | None) -> tuple[list[tuple[str, str]], list[Claim]]:
    for_write(session)
    require(actor.role, "billing.claims")
    now = now or utcnow()
    claims = claims_to_send(session)
    if not claims:
        return [], []
    files = [(name, text) for name, text, _payer in payer_files(
        session, claims, control_of=lambda n: int(now.timestamp()) % 100_000_000 * 10 + n % 10, now=now,
        refused="no claim was sent")]
    for claim in claims:
        move_claim(session, claim, "submitted", actor=actor, note="exported in an 837P file", now=now)
    audit.record(session, actor=actor, action="export", entity="claim", detail=f"{len(claims)} claims in {len(files)} files")
    session.flush()
    return files, claims


def export(session: Session, *, actor: Actor, out_dir: Path, now: dt.datetime | None = None) -> list[Path]:
    """Write the 837P files of the claims ready to send into ``out_dir``; mark them submitted.

    The claims are marked only once every file is on disk, so a failed write leaves
    them in the queue for the next export.
    """
    files, _claims = _export_files(session, actor=actor, now=now)
    if not files:
        return []
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)  # an OSError here or below: the caller rolls the marks back
    for name, text in files:
        path = out_dir / name
        path.write_text(text, encoding="ascii")
        written.append(path)
    announce(session, f"{len(files)} 837P files written")
    return written


def claim_view(session: Session, *, claim_id: int) -> dict:
    """A claim with its lines and diagnoses, as a biller reads it."""
    claim = session.get(Claim, claim_id)
    if claim is None:
        raise NotFound("That claim no longer exists.")
    lines = list(session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_no)))
    dx = list(session.exec(select(ClaimDiagnosis).where(ClaimDiagnosis.claim_id == claim.id).order_by(ClaimDiagnosis.position)))
    return {
        "claim": claim, "lines": lines, "diagnoses": [d.code for d in dx],
        "payer": session.get(Payer, claim.payer_id), "patient": session.get(Patient, claim.patient_id),
    }


def recent_claims(session: Session, *, actor: Actor, limit: int = 20) -> list[dict]:
    """The newest claims, newest first, as the billing page lists them (with a printable form)."""
    require(actor.role, "billing.view")
    rows = session.exec(
        select(Claim, Payer, Patient).join(Payer, Payer.id == Claim.payer_id).join(Patient, Patient.id == Claim.patient_id)
        .order_by(Claim.created_at.desc(), Claim.id.desc()).limit(limit)
    ).all()
    numbers = dict(session.exec(
        select(Claim.id, Claim.number).where(Claim.id.in_([c.primary_claim_id for c, _, _ in rows if c.primary_claim_id]))
    ).all())
    return [
        {
            "claim_id": claim.id, "number": claim.number, "patient": f"{patient.last_name}, {patient.first_name}",
            "payer": payer.name, "service_date": claim.service_date.isoformat(), "status": STATUS_LABELS[claim.status],
            "total": f"{amount(claim.total_cents)}",
            "follows": f"secondary, after {numbers[claim.primary_claim_id]}" if claim.primary_claim_id else "",
            # A paid primary whose patient share can still go to a secondary payer (e.g. coverage recorded late).
            "can_bill_secondary": claim.status == "paid" and claim.primary_claim_id is None
            and cob.why_not(session, primary=claim) is None,
        }
        for claim, payer, patient in rows
    ]
