"""X12 at its edges: 835 balancing as the guide states it, provider-level adjustments posted,
dates and amounts checked, a 4010 file refused by name, a 271 that finds nobody, ISA15 from the
setting, and the words of refusals. Files are built to the guides and checked by pyx12 where it
has the map (835 5010 and 4010; it has no 5010 271 map)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from sqlmodel import select

from clinic_app.__main__ import _with_nothing
from clinic_app.models import Claim, LedgerEntry, ProviderAdjustment, Remittance
from clinic_app.services.interop.x12 import x12_validate
from clinic_app.services.revenue import claims, eligibility, era, ledger
from clinic_app.services.revenue.eligibility import EligibilityRefused
from tests.services.helpers import book
from tests.services.test_eligibility import NOW as ELIGIBILITY_NOW
from tests.services.test_eligibility import answer_271
from tests.services.test_remittance import NOW, _lines, _nothing_posted
from tests.services.x12_835 import Line, Paid, remittance, remittance_4010
from tests.strategies import X12_BAD_DATES, x12_dates


@pytest.fixture
def sent(session, clinic, tmp_path):
    """Two submitted claims to Acme (as tests/services/test_remittance.py): $77 and $197."""
    from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing

    cover(session, clinic, set_up_billing(session, clinic))
    one = claimed_visit(session, clinic, "09:00")
    two = claimed_visit(session, clinic, "10:00", extra_codes=[("97161", 1)])
    claims.export(session, actor=clinic.biller, out_dir=tmp_path, now=NOW)
    session.commit()  # the fixture is the caller: it commits what the services did
    return one, two


def _one_paid(session, one, *, claim_level=(), paid=5000, line_paid=5000, code="97110", charge=7700):
    l1 = _lines(session, one)[0]
    line = Line(code, charge, line_paid, 2, ("GP",), str(l1.id), [("CO", "45", 1000), ("PR", "1", charge - line_paid - 1000)])
    return Paid(one.number, "1", charge, paid, charge - line_paid - 1000, [line], list(claim_level))


def test_a_claim_level_sequestration_beside_paid_lines_is_posted(session, clinic, sent):
    one, _ = sent
    # The lines pay $50.00; 2% sequestration (CO-253) is taken at claim level: CLP04 = 50.00 - 1.00.
    text = remittance([_one_paid(session, one, claim_level=[("CO", "253", 100)], paid=4900)])
    assert x12_validate.validate(text) == []
    summary = era.post(session, actor=clinic.biller, text=text, now=NOW)
    assert (summary["claims"], summary["paid_cents"]) == (1, 4900)
    assert session.get(Claim, one.id).status == "paid"
    # The payer owes nothing more on the claim; the patient owes the deductible.
    assert ledger.balances(session, patient_id=clinic.patients[0].id) == {"patient": 1700, "insurance": 19700, "total": 21400}
    reasons = session.exec(select(LedgerEntry.reason).where(LedgerEntry.kind == "adjustment")).all()
    assert "CO-253" in reasons
    # A claim whose lines and claim-level adjustments do not give CLP04: refused, saying so.
    session.rollback()
    bad = remittance([_one_paid(session, one, claim_level=[("CO", "253", 100)], paid=4800)], control=102, trace="CHK9")
    with pytest.raises(era.RemittanceRefused, match=r"the claim pays \$48.00, but its lines pay \$50.00 less \$1.00"):
        era.post(session, actor=clinic.biller, text=bad, now=NOW)


def test_provider_level_adjustments_are_posted_and_the_books_match_the_deposit(session, clinic, sent):
    one, two = sent
    l2a, l2b = _lines(session, two)
    # $57.20 paid on the claims, $1.00 interest on claim one (L6, added) and a $0.50 recoupment (WO, withheld).
    text = remittance([
        _one_paid(session, one, paid=5000),
        Paid(two.number, "1", 19700, 720, 0, [
            Line("97110", 7700, 720, 2, ("GP",), str(l2a.id), [("CO", "45", 6980)]),
            Line("97161", 12000, 0, 1, ("GP",), str(l2b.id), [("CO", "97", 12000)]),
        ]),
    ], plbs=[(f"L6:{one.number}", -100), ("WO:OVERPAY77", 50)])
    assert x12_validate.validate(text) == []
    assert "BPR*I*57.7*" in text  # 57.20 + 1.00 - 0.50
    summary = era.post(session, actor=clinic.biller, text=text, now=NOW)
    assert summary["provider_adjustments_cents"] == -50
    remit = session.exec(select(Remittance)).one()
    assert remit.payment_cents == 5770
    assert era.deposit_cents(session, remittance_id=remit.id) == 5770
    rows = session.exec(select(ProviderAdjustment).order_by(ProviderAdjustment.id)).all()
    assert [(r.reason_code, r.reference, r.amount_cents, r.claim_id) for r in rows] == [
        ("L6", one.number, -100, one.id), ("WO", "OVERPAY77", 50, None)]
    assert str(rows[0].fiscal_period_end) == "2030-12-31"


def test_dates_that_do_not_exist_are_refused(session, clinic, sent):
    one, _ = sent
    for day in X12_BAD_DATES:
        for where, kwargs in (("BPR16", {"paid_on": day}), ("DTM*405", {"produced_on": day}),
                              ("PLB02", {"plb_date": day, "plbs": [("WO:X", 10)]})):
            text = remittance([_one_paid(session, one)], **kwargs)
            with pytest.raises(era.RemittanceRefused, match=r"is not a date|out of range") as refused:
                era.post(session, actor=clinic.biller, text=text, now=NOW)
            assert where in str(refused.value), (day, where, str(refused.value))
            session.rollback()
            _nothing_posted(session, ["submitted", "submitted"])


def test_any_date_at_the_limits_is_posted_or_refused_never_a_crash(session, clinic, sent):
    one, _ = sent

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(day=x12_dates())
    def check(day):
        try:
            era.parse(remittance([_one_paid(session, one)], paid_on=day, produced_on=day))
        except era.RemittanceRefused as exc:
            assert "BPR16" in str(exc) or "DTM" in str(exc)

    check()


def test_amounts_in_exponent_form_are_refused(session, clinic, sent):
    one, _ = sent
    good = remittance([_one_paid(session, one)])
    for bad in (good.replace("SVC*HC:97110:GP*77*50*", "SVC*HC:97110:GP*77*5E1*"), good.replace("CAS*CO*45*10~", "CAS*CO*45*1E1~"),
                good.replace("BPR*I*50*", "BPR*I*5.0E1*")):
        assert bad != good
        with pytest.raises(era.RemittanceRefused, match="no exponent form"):
            era.post(session, actor=clinic.biller, text=bad, now=NOW)
        session.rollback()
    _nothing_posted(session, ["submitted", "submitted"])


def test_a_4010_remittance_is_refused_by_name(session, clinic, sent):
    one, _ = sent
    text = remittance_4010(one.number, 7700, 5000)
    assert x12_validate.validate(text) == []  # a real 4010 835, as pyx12's 4010 map reads it
    with pytest.raises(era.RemittanceRefused, match=r"This is a 4010 835 remittance \(GS08 004010X091A1, ISA12 00401\); only 5010"):
        era.post(session, actor=clinic.biller, text=text, now=NOW)
    session.rollback()
    _nothing_posted(session, ["submitted", "submitted"])
    relabelled = remittance([_one_paid(session, one)], gs08="004010X091A1")
    with pytest.raises(era.RemittanceRefused, match="a 4010 835 remittance"):
        era.post(session, actor=clinic.biller, text=relabelled, now=NOW)


def test_a_line_without_a_code_is_named_by_its_position(session, clinic, sent):
    one, _ = sent
    text = remittance([Paid(one.number, "1", 7700, 5000, 0, [Line("", 7700, 5000, 2, (), "", [("CO", "45", 2600)])])])
    with pytest.raises(era.RemittanceRefused, match=r"line 1 \(no procedure code\) does not balance"):
        era.post(session, actor=clinic.biller, text=text, now=NOW)


# -- 271 ------------------------------------------------------------------------------------------------------
@pytest.fixture
def asked(session, clinic):
    from tests.services.revenue_helpers import cover, set_up_billing

    coverage = cover(session, clinic, set_up_billing(session, clinic))
    eligibility.request_270(session, actor=clinic.reception, coverage_id=coverage.id, now=ELIGIBILITY_NOW)
    session.refresh(coverage)
    session.commit()  # the fixture is the caller: it commits what the services did
    return coverage


def test_a_271_that_finds_nobody_is_kept_as_not_found_and_the_desk_reads_it(session, clinic, asked):
    text = answer_271(asked.eligibility_trace, asked.member_id, "AAA*N**75*C")
    result = eligibility.import_271(session, actor=clinic.reception, raw=text, now=ELIGIBILITY_NOW)
    assert result == [{"coverage_id": asked.id, "status": "not_found", "copay_cents": None,
                       "deductible_remaining_cents": None, "reason": "75"}]
    session.refresh(asked)
    assert (asked.eligibility_status, asked.eligibility_reason) == ("not_found", "75")
    words = eligibility.eligibility_words(asked, "America/New_York")
    assert words.startswith("Not found at the payer (checked 2030-03-11 11:00): subscriber/insured not found (AAA 75)")
    appt = book(session, clinic, "09:00")
    due = eligibility.copay_due(session, appointment_id=appt.id)
    assert "Not found at the payer" in due.eligibility and due.copay_cents is None


def test_a_271_refusing_the_request_itself_changes_nothing(session, clinic, asked):
    text = answer_271(asked.eligibility_trace, asked.member_id, "EB*1**30").replace(
        "NM1*PR*2*ACME HEALTH*****PI*ACME1", "NM1*PR*2*ACME HEALTH*****PI*ACME1~\nAAA*N**42*R")
    segments = text.split("~\n")
    start = next(i for i, x in enumerate(segments) if x.startswith("ST*"))
    end = next(i for i, x in enumerate(segments) if x.startswith("SE*"))
    segments[end] = f"SE*{end - start + 1}*0001"
    text = "~\n".join(segments)
    with pytest.raises(EligibilityRefused, match=r"could not answer the request: unable to respond at current time \(AAA 42\)"):
        eligibility.import_271(session, actor=clinic.reception, raw=text, now=ELIGIBILITY_NOW)
    session.rollback()
    session.refresh(asked)
    assert asked.eligibility_status == ""


# -- ISA15 ------------------------------------------------------------------------------------------------------
def test_every_outbound_file_says_test_or_production_from_one_setting(session, clinic, asked, tmp_path, monkeypatch):
    from tests.services.revenue_helpers import claimed_visit

    claimed_visit(session, clinic, "10:00")
    monkeypatch.delenv("CLINIC_X12_USAGE", raising=False)
    text_270 = eligibility.request_270(session, actor=clinic.reception, coverage_id=asked.id, now=ELIGIBILITY_NOW)
    assert text_270.split("~")[0].split("*")[15] == "T"
    monkeypatch.setenv("CLINIC_X12_USAGE", "P")
    text_270 = eligibility.request_270(session, actor=clinic.reception, coverage_id=asked.id, now=ELIGIBILITY_NOW)
    assert text_270.split("~")[0].split("*")[15] == "P" and eligibility.validate_270(text_270) == []
    [path] = claims.export(session, actor=clinic.biller, out_dir=tmp_path, now=NOW)
    text_837 = path.read_text()
    assert text_837.split("~")[0].split("*")[15] == "P" and x12_validate.validate(text_837) == []
    monkeypatch.setenv("CLINIC_X12_USAGE", "X")
    with pytest.raises(ValueError, match="CLINIC_X12_USAGE must be T"):
        eligibility.request_270(session, actor=clinic.reception, coverage_id=asked.id, now=ELIGIBILITY_NOW)


def test_refusals_say_nothing_was_changed_once():
    assert _with_nothing("The file is truncated.", "Nothing was changed.") == "The file is truncated. Nothing was changed."
    said = "Claim X matches no claim we sent; nothing was changed."
    assert _with_nothing(said, "Nothing was changed.") == said
    assert _with_nothing("This file was already posted on 2030-03-13; nothing was posted again.", "Nothing was posted.").count("othing") == 1

