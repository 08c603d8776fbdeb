"""The billing reports' range: every problem with the dates said at once, per field; the
range's reports and CSV in the location's days."""

from __future__ import annotations

import datetime as dt

import pytest

from clinic_app.services.platform.errors import NotAllowed
from clinic_app.services.revenue import billing, billing_reports, ledger
from clinic_app.services.revenue.billing_reports import RangeProblems, parse_range
from tests.services.revenue_helpers import set_up_billing, signed_visit


def test_a_range_reports_every_problem_beside_its_field():
    with pytest.raises(RangeProblems) as both:
        parse_range("", "31/01/2026", "year")
    assert both.value.problems == {
        "from": "Choose the first day of the range.",
        "to": "The last day '31/01/2026' is not a date; pick it from the calendar.",
        "grain": "Choose day, week or month.",
    }
    with pytest.raises(RangeProblems, match="is before the first") as backwards:
        parse_range("2026-02-01", "2026-01-31")
    assert set(backwards.value.problems) == {"to"}
    with pytest.raises(RangeProblems, match="choose at most 1098 days"):
        parse_range("2020-01-01", "2026-01-31")
    chosen = parse_range(" 2026-01-01", "2026-01-31 ", "week")
    assert (chosen.start, chosen.end, chosen.grain, chosen.words) == (
        dt.date(2026, 1, 1), dt.date(2026, 1, 31), "week", "2026-01-01 to 2026-01-31")


def test_the_range_holds_the_payments_of_its_days(session, clinic):
    set_up_billing(session, clinic)
    appt = signed_visit(session, clinic)
    billing.mark_billed(session, actor=clinic.biller, appointment_id=appt.id)
    ledger.take_payment(session, actor=clinic.reception, patient_id=clinic.patients[0].id, amount="25", method="cash")
    today = dt.datetime.now(dt.UTC).date()
    found = billing_reports.range_reports(session, actor=clinic.biller, chosen=parse_range(
        (today - dt.timedelta(days=3)).isoformat(), (today + dt.timedelta(days=1)).isoformat(), "month"), tz="UTC")
    assert [(r["patient"], r["total"]) for r in found["payments"]] == [(2500, 2500)]
    assert found["denials"]["by_reason"] == []
    earlier = billing_reports.range_reports(session, actor=clinic.biller, chosen=parse_range("2020-01-01", "2020-12-31"), tz="UTC")
    assert earlier["payments"] == []
    assert billing_reports.denials_csv([{"reason": "CO-50", "words": "not medically necessary", "claims": 2,
                                        "share_of_denials": 2 / 3}]) == (
        "reason,words,claims,share_of_denials_percent\r\nCO-50,not medically necessary,2,67\r\n")
    with pytest.raises(NotAllowed):
        billing_reports.range_reports(session, actor=clinic.reception, chosen=parse_range("2020-01-01", "2020-12-31"), tz="UTC")
