"""835 remittances posted against our own claims: to the cent, all or nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import func, select

from clinic_app.models import Adjustment, Claim, ClaimLine, LedgerEntry, LinePosting, Remittance
from clinic_app.services.interop.x12 import x12_validate
from clinic_app.services.platform.errors import InvalidInput, NotAllowed
from clinic_app.services.revenue import claims, era, ledger
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing
from tests.services.x12_835 import Line, Paid, remittance

NOW = dt.datetime(2030, 3, 13, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def sent(session, clinic, tmp_path):
    """Two submitted claims to Acme: 97110 x2 ($77) and 97110 x2 + 97161 ($197)."""
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    one = claimed_visit(session, clinic, "09:00")
    two = claimed_visit(session, clinic, "10:00", extra_codes=[("97161", 1)])
    claims.export(session, actor=clinic.biller, out_dir=tmp_path, now=NOW)
    session.commit()  # the fixture is the caller: it commits what the services did
    return one, two


def _lines(session, claim):
    return session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_no)).all()


def _paid_file(session, one, two):
    l1 = _lines(session, one)[0]
    l2a, l2b = _lines(session, two)
    return remittance([
        Paid(one.number, "1", 7700, 5000, 1700, [
            Line("97110", 7700, 5000, 2, ("GP",), str(l1.id), [("CO", "45", 1000), ("PR", "1", 1700)], ("N130",)),
        ]),
        Paid(two.number, "1", 19700, 15357, 2000, [
            Line("97110", 7700, 6157, 2, ("GP",), str(l2a.id), [("CO", "45", 543), ("PR", "2", 1000)]),
            Line("97161", 12000, 9200, 1, ("GP",), str(l2b.id), [("CO", "45", 1800), ("PR", "3", 1000)]),
        ]),
    ])


def test_posting_an_835_balances_every_line_and_the_ledger_to_the_cent(session, clinic, sent):
    one, two = sent
    text = _paid_file(session, one, two)
    assert x12_validate.validate(text) == []  # a real 835, as pyx12 reads it
    summary = era.post(session, actor=clinic.biller, text=text, now=NOW)
    assert (summary["claims"], summary["paid_cents"], summary["denied"]) == (2, 20357, 0)
    for posting in session.exec(select(LinePosting)).all():
        adjusted = session.exec(select(func.sum(Adjustment.amount_cents)).where(Adjustment.line_posting_id == posting.id)).one()
        assert posting.charge_cents - posting.paid_cents == adjusted
    assert {c.status for c in session.exec(select(Claim)).all()} == {"paid"}
    assert session.get(Claim, one.id).payer_claim_number == "PCN0001"
    # Insurance owes nothing more; the patient owes deductible + co-insurance + co-pays.
    assert ledger.balances(session, patient_id=clinic.patients[0].id) == {"patient": 3700, "insurance": 0, "total": 3700}
    assert [(e.from_status, e.to_status) for e in claims.history(session, claim_id=one.id)][-1] == ("submitted", "paid")


def test_a_denial_goes_to_the_worklist_and_an_appeal_can_be_paid(session, clinic, sent):
    one, two = sent
    first = remittance([
        Paid(one.number, "4", 7700, 0, 0, [], [("CO", "50", 7700)]),
        Paid(two.number, "1", 19700, 19700, 0, [
            Line("97110", 7700, 7700, 2, ("GP",), str(_lines(session, two)[0].id)),
            Line("97161", 12000, 12000, 1, ("GP",), str(_lines(session, two)[1].id)),
        ]),
    ], trace="CHK1")
    assert x12_validate.validate(first) == []
    era.post(session, actor=clinic.biller, text=first, now=NOW)
    worklist = era.denials(session, actor=clinic.biller)
    assert [(r["number"], r["reasons"], r["total"]) for r in worklist] == [(one.number, "CO-50 not medically necessary", "77.00")]
    # The denied amount is still owed by the payer until appealed or written off.
    assert ledger.balances(session, patient_id=clinic.patients[0].id) == {"patient": 0, "insurance": 7700, "total": 7700}
    claims.set_status(session, actor=clinic.biller, claim_id=one.id, to_status="appealed", note="notes sent")
    assert era.denials(session, actor=clinic.biller) == []
    second = remittance([Paid(one.number, "1", 7700, 7000, 0, [
        Line("97110", 7700, 7000, 2, ("GP",), str(_lines(session, one)[0].id), [("CO", "45", 700)])])], control=102, trace="CHK2")
    era.post(session, actor=clinic.biller, text=second, now=NOW)
    assert session.get(Claim, one.id).status == "paid"
    assert ledger.balances(session, patient_id=clinic.patients[0].id)["total"] == 0


def _nothing_posted(session, statuses):
    assert session.exec(select(func.count()).select_from(Remittance)).one() == 0
    assert session.exec(select(func.count()).select_from(LinePosting)).one() == 0
    assert [e.kind for e in session.exec(select(LedgerEntry)).all()] == ["charge", "charge"]
    assert [c.status for c in session.exec(select(Claim).order_by(Claim.id)).all()] == statuses


def test_bad_and_hostile_files_are_refused_and_post_nothing(session, clinic, sent):
    one, two = sent
    good = _paid_file(session, one, two)
    l1 = _lines(session, one)[0]
    unbalanced = remittance([Paid(one.number, "1", 7700, 5000, 0, [Line("97110", 7700, 5000, 2, ("GP",), str(l1.id), [("CO", "45", 2600)])])])
    stranger = remittance([Paid("NOPE-1", "1", 7700, 7700, 0, [Line("97110", 7700, 7700, 2)])])
    wrong_total = remittance([Paid(one.number, "1", 7700, 7700, 0, [Line("97110", 7700, 7700, 2, ("GP",), str(l1.id))])], payment=9999)
    cases = {
        "truncated": (good[: len(good) // 2], "truncated"),
        "wrong SE count": (good.replace("SE*", "SE*9", 1), "SE says 9"),
        "IEA mismatch": (good.replace("IEA*1*000000101", "IEA*1*000000999"), "does not match ISA"),
        "not X12": ("hello, this is not a remittance", "not an X12 file"),
        "unbalanced": (unbalanced, "does not balance: charge $77.00 - paid $50.00 is not the $26.00"),
        "unknown claim": (stranger, "Claim NOPE-1 in the remittance matches no claim we sent"),
        "payment mismatch": (wrong_total, "The payment $99.99 is not what the claims paid"),
        "non-ascii": (good.replace("ACME HEALTH", "ACMÉ HEALTH"), "non-ASCII"),
        "huge": (good + "X" * (era.MAX_BYTES + 1), "over 5 MB are refused"),
        "bad amount": (good.replace("CAS*CO*45*10~", "CAS*CO*45*1O~"), "is not an amount"),
    }
    for text, message in cases.values():
        with pytest.raises(era.RemittanceRefused, match=message.replace("$", r"\$").replace("(", r"\(")):
            era.post(session, actor=clinic.biller, text=text, now=NOW)
        session.rollback()
        _nothing_posted(session, ["submitted", "submitted"])
    with pytest.raises(NotAllowed):
        era.post(session, actor=clinic.reception, text=good, now=NOW)


def test_the_same_file_is_never_posted_twice(session, clinic, sent):
    one, two = sent
    text = _paid_file(session, one, two)
    era.post(session, actor=clinic.biller, text=text, now=NOW)
    entries = len(session.exec(select(LedgerEntry)).all())
    with pytest.raises(era.RemittanceRefused, match="already posted on 2030-03-13"):
        era.post(session, actor=clinic.biller, text=text, now=NOW)
    assert len(session.exec(select(LedgerEntry)).all()) == entries


def test_a_denied_amount_is_written_off_from_the_payer_and_a_reversal_undoes_it(session, clinic, sent):
    one, _ = sent
    era.post(session, actor=clinic.biller, text=remittance([Paid(one.number, "4", 7700, 0, 0, [], [("CO", "50", 7700)])]), now=NOW)
    mrn = clinic.patients[0].mrn
    account = ledger.account(session, actor=clinic.biller, mrn=mrn)
    [acme] = account["payers"]
    assert acme["owed_cents"] == 7700 + 19700  # the denial and the unanswered second claim
    with pytest.raises(InvalidInput, match="Say why"):
        ledger.write_off(session, actor=clinic.biller, patient_id=account["patient_id"], amount="77", reason="", payer_id=acme["payer_id"])
    with pytest.raises(InvalidInput, match=r"balance is \$0.00"):
        ledger.write_off(session, actor=clinic.biller, patient_id=account["patient_id"], amount="77", reason="denial lost")
    entry = ledger.write_off(session, actor=clinic.biller, patient_id=account["patient_id"], amount="77.00",
                             reason="denial: not medically necessary", payer_id=acme["payer_id"])
    assert ledger.balances(session, patient_id=account["patient_id"])["insurance"] == 19700
    ledger.reverse(session, actor=clinic.biller, entry_id=entry.id, reason="appeal won after all")
    account = ledger.account(session, actor=clinic.biller, mrn=mrn)
    assert account["payers"][0]["owed_cents"] == 7700 + 19700
    flags = [(e["kind"], e["reversible"], e["reversed"]) for e in account["entries"]][-2:]
    assert flags == [("Write-off", False, True), ("Write-off", False, False)]  # each entry reversed at most once
