"""Eligibility: the 270 inquiry passes the 5010 checks; a 271 is read into the coverage,
and a damaged or foreign answer changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.models import AuditLog, Coverage
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform.errors import NotAllowed
from clinic_app.services.revenue import eligibility, ledger
from clinic_app.services.revenue.eligibility import EligibilityRefused
from tests.conftest import DAY, at
from tests.services.helpers import book, now_at
from tests.services.revenue_helpers import cover, set_up_billing

NOW = dt.datetime(2030, 3, 11, 15, 0, tzinfo=dt.UTC)


def answer_271(trace: str, member: str, *benefits: str, dependent: bool = False) -> str:
    """A payer's 271 as clearing houses send it (one subscriber, or a subscriber and a dependant)."""
    rows = [
        "ST*271*0001*005010X279A1", "BHT*0022*11*C1*20300311*1500",
        "HL*1**20*1", "NM1*PR*2*ACME HEALTH*****PI*ACME1",
        "HL*2*1*21*1", "NM1*1P*2*TEST CLINIC PT LLC*****XX*1245319599",
        f"HL*3*2*22*{1 if dependent else 0}", f"TRN*2*{trace}*1123456789",
        f"NM1*IL*1*DIAZ*CARA****MI*{member}", "DMG*D8*19800101",
    ]
    if dependent:
        rows += ["HL*4*3*23*0", "NM1*03*1*DIAZ*CARA", "DMG*D8*19800101"]
    rows += list(benefits)
    rows.append(f"SE*{len(rows) + 1}*0001")
    isa = ("ISA*00*          *00*          *ZZ*CLEARINGHOUSE  *ZZ*CLINICAPP      *300311*1500*^*00501*000000007*0*P*:")
    return "~\n".join([isa, "GS*HB*CLEARINGHOUSE*CLINICAPP*20300311*1500*7*X*005010X279A1", *rows, "GE*1*7",
                       "IEA*1*000000007"]) + "~\n"


ACTIVE_WITH_MONEY = (
    "EB*1*IND*30**GOLD PLAN",
    "EB*B*IND*PT*HM**27*40*****N",  # out of network: not the desk's copay
    "EB*B*IND*PT*HM**27*25*****Y",
    "EB*B*IND*30*HM**27*35",
    "EB*C*IND*30*HM**23*1500*****Y",  # the calendar-year deductible, not what is left
    "EB*C*IND*30*HM**29*312.5*****Y",
)


@pytest.fixture
def covered(session, clinic):
    payer = set_up_billing(session, clinic)
    session.commit()  # the fixture is the caller: it commits what the services did
    return cover(session, clinic, payer)


def _request(session, clinic, coverage):
    return eligibility.request_270(session, actor=clinic.reception, coverage_id=coverage.id, now=NOW)


def test_the_270_passes_the_5010_checks_and_asks_about_the_member(session, clinic, covered):
    text = _request(session, clinic, covered)
    assert eligibility.validate_270(text) == []
    assert "GS*HS*" in text and "005010X279A1" in text and "EQ*30~" in text
    assert f"NM1*IL*1*DIAZ*CARA****MI*{covered.member_id}~" in text
    session.refresh(covered)
    assert covered.eligibility_trace and f"TRN*1*{covered.eligibility_trace}*" in text
    assert session.exec(select(AuditLog).where(AuditLog.entity == "eligibility_270")).one().patient_id == covered.patient_id


def test_a_dependants_270_asks_in_the_dependant_loop(session, clinic):
    payer = set_up_billing(session, clinic)
    coverage = cover(session, clinic, payer, relationship="child", subscriber_first_name="Dan",
                     subscriber_last_name="Diaz", subscriber_birth_date=dt.date(1950, 2, 3))
    text = _request(session, clinic, coverage)
    assert eligibility.validate_270(text) == []
    assert "NM1*IL*1*DIAZ*DAN****MI*" in text and "HL*4*3*23*0~" in text and "NM1*03*1*DIAZ*CARA~" in text


def test_the_5010_check_finds_a_broken_270(session, clinic, covered):
    text = _request(session, clinic, covered)
    assert eligibility.validate_270(text.replace("SE*13*", "SE*14*")) != []
    assert eligibility.validate_270(text.replace("DMG*D8*19800101", "DMG*D8*1980")) != []


def test_a_271_sets_status_copay_and_deductible_remaining(session, clinic, covered):
    _request(session, clinic, covered)
    session.refresh(covered)
    result = eligibility.import_271(session, actor=clinic.reception,
                                    raw=answer_271(covered.eligibility_trace, covered.member_id, *ACTIVE_WITH_MONEY), now=NOW)
    assert result == [{"coverage_id": covered.id, "status": "active", "copay_cents": 2500,
                       "deductible_remaining_cents": 31250}]
    row = session.get(Coverage, covered.id)
    session.refresh(row)
    assert (row.eligibility_status, row.eligibility_copay_cents, row.deductible_remaining_cents) == ("active", 2500, 31250)
    assert eligibility.eligibility_words(row, "America/New_York") == (
        "Active (checked 2030-03-11 11:00): copay $25.00, deductible remaining $312.50"
    )


def test_an_inactive_answer_for_a_dependant_is_found_by_member_id(session, clinic, covered):
    eligibility.import_271(session, actor=clinic.reception, raw=answer_271("UNKNOWN1", covered.member_id, "EB*6**30",
                                                                           dependent=True), now=NOW)
    session.refresh(covered)
    assert covered.eligibility_status == "inactive" and covered.eligibility_copay_cents is None


@pytest.mark.parametrize(("damage", "message"), [
    (lambda t: t[: t.index("GE*1*7")], "truncated"),
    (lambda t: t.replace("\nSE*", "\nSE*9"), "SE says"),
    (lambda t: "hello, this is not X12", "not an X12 file"),
    (lambda t: t.replace("ST*271", "ST*835"), "not a 271"),
    (lambda t: t.replace("CARA", "CAR\u00c1", 1), "non-ASCII"),
    (lambda t: t.replace("EB*B*IND*PT*HM**27*25*", "EB*B*IND*PT*HM**27*-25*"), "out of range"),
    (lambda t: t.replace("EB*B*IND*PT*HM**27*25*", "EB*B*IND*PT*HM**27*1e999*"), "out of range"),
    (lambda t: t.replace("EB*B*IND*PT*HM**27*25*", "EB*B*IND*PT*HM**27*lots*"), "not a number"),
    (lambda t: t.replace("EB*1*IND*30**GOLD PLAN", "AAA*N**72*C"), "rejected the request"),
    (lambda t: t.replace("EB*1*IND*30**GOLD PLAN", "EB*X*IND*30"), "active or inactive"),
])
def test_a_damaged_271_is_refused_and_changes_nothing(session, clinic, covered, damage, message):
    _request(session, clinic, covered)
    session.refresh(covered)
    text = damage(answer_271(covered.eligibility_trace, covered.member_id, *ACTIVE_WITH_MONEY))
    with pytest.raises(EligibilityRefused, match=message):
        eligibility.import_271(session, actor=clinic.reception, raw=text.encode("utf-8"), now=NOW)
    session.rollback()
    session.refresh(covered)
    assert covered.eligibility_status == "" and covered.eligibility_checked_at is None


def test_an_answer_for_someone_else_changes_nothing(session, clinic, covered):
    with pytest.raises(EligibilityRefused, match="matches no coverage"):
        eligibility.import_271(session, actor=clinic.reception, raw=answer_271("NOPE", "ZZ999", "EB*1**30"), now=NOW)
    _request(session, clinic, covered)
    session.refresh(covered)
    with pytest.raises(EligibilityRefused, match="is for member ZZ999"):
        eligibility.import_271(session, actor=clinic.reception, raw=answer_271(covered.eligibility_trace, "ZZ999", "EB*1**30"))
    session.rollback()
    session.refresh(covered)
    assert covered.eligibility_status == ""


def test_eligibility_needs_permission(session, clinic, covered):
    with pytest.raises(NotAllowed):
        eligibility.request_270(session, actor=clinic.clinician, coverage_id=covered.id)
    with pytest.raises(NotAllowed):
        eligibility.import_271(session, actor=clinic.manager, raw=answer_271("X", covered.member_id, "EB*1**30"))


def test_copay_due_at_check_in_comes_from_the_271_less_what_was_paid(session, clinic, covered):
    appt = book(session, clinic, "09:00")
    assert eligibility.copay_due(session, appointment_id=appt.id).words == "No copay on file for this visit"
    covered.copay_cents = 3000  # recorded from the card
    session.add(covered)
    session.commit()
    assert eligibility.copay_due(session, appointment_id=appt.id).due_cents == 3000
    _request(session, clinic, covered)
    session.refresh(covered)
    eligibility.import_271(session, actor=clinic.reception,
                           raw=answer_271(covered.eligibility_trace, covered.member_id, *ACTIVE_WITH_MONEY), now=NOW)
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=now_at("08:55"))
    due = eligibility.copay_due(session, appointment_id=appt.id)
    assert (due.copay_cents, due.due_cents, due.words) == (2500, 2500, "Copay due $25.00")
    assert due.eligibility.startswith("Active (checked 2030-03-11")
    ledger.take_payment(session, actor=clinic.reception, patient_id=appt.patient_id, amount="10", method="cash",
                        appointment_id=appt.id)
    assert eligibility.copay_due(session, appointment_id=appt.id).words == "Copay due $15.00 (of $25.00)"
    ledger.take_payment(session, actor=clinic.reception, patient_id=appt.patient_id, amount="15", method="card",
                        reference="AUTH778", appointment_id=appt.id)
    assert eligibility.copay_due(session, appointment_id=appt.id).words == "Copay $25.00 paid"


def test_no_copay_is_asked_when_the_payer_says_inactive(session, clinic, covered):
    covered.copay_cents = 3000
    session.add(covered)
    session.commit()
    eligibility.import_271(session, actor=clinic.reception, raw=answer_271("T", covered.member_id, "EB*6**30"), now=NOW)
    appt = book(session, clinic, "10:00")
    due = eligibility.copay_due(session, appointment_id=appt.id)
    assert due.copay_cents is None and "Inactive (checked" in due.eligibility and "self-pay" in due.eligibility


def test_a_visit_without_insurance_is_self_pay(session, clinic):
    appt = book(session, clinic, "09:00", patient=2)
    due = eligibility.copay_due(session, appointment_id=appt.id)
    assert due.coverage == "No insurance on file for this day (self-pay)" and due.copay_cents is None
    assert at("09:00").date() == DAY
