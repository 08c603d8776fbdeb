"""Revenue reports against a hand-computed day of claims, remittances and payments."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlmodel import select

from clinic_app.models import ClaimLine
from clinic_app.services.platform.errors import NotAllowed
from clinic_app.services.revenue import claims, era, ledger, revenue_reports
from tests.conftest import DAY
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing
from tests.services.x12_835 import Line, Paid, remittance

NOW = dt.datetime(2030, 3, 13, 15, 0, tzinfo=dt.UTC)
PERIOD = (dt.datetime(2030, 3, 1, tzinfo=dt.UTC), dt.datetime(2030, 4, 1, tzinfo=dt.UTC))


@pytest.fixture
def month(session, clinic, tmp_path):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    paid = claimed_visit(session, clinic, "09:00")  # $77
    denied = claimed_visit(session, clinic, "10:00", extra_codes=[("97161", 1)])  # $197
    claimed_visit(session, clinic, "11:00")  # $77, no answer yet
    claims.export(session, actor=clinic.biller, out_dir=tmp_path, now=NOW)
    line = session.exec(select(ClaimLine).where(ClaimLine.claim_id == paid.id)).one()
    era.post(session, actor=clinic.biller, now=NOW + dt.timedelta(days=7), text=remittance([
        Paid(paid.number, "1", 7700, 5000, 1700, [Line("97110", 7700, 5000, 2, ("GP",), str(line.id), [("CO", "45", 1000), ("PR", "1", 1700)])]),
        Paid(denied.number, "4", 19700, 0, 0, [], [("CO", "50", 19700)]),
    ]))
    ledger.take_payment(session, actor=clinic.reception, patient_id=clinic.patients[0].id, amount="10", method="cash",
                        now=NOW + dt.timedelta(days=8))


def test_ar_aging_by_payer_and_patient_by_date_of_service(session, clinic, month):
    report = revenue_reports.ar_aging(session, actor=clinic.biller, as_of=DAY + dt.timedelta(days=45))
    # Acme still owes the denied $197 and the unanswered $77; the paid claim is settled.
    assert report["by_payer"] == [{"name": "Acme Health", "0-30": 0, "31-60": 27400, "61-90": 0, "90+": 0, "unapplied": 0, "total": 27400}]
    # The patient owes the $17 deductible and paid $10 on account.
    assert report["by_patient"] == [{"name": "Diaz, Cara (T0)", "0-30": 0, "31-60": 1700, "61-90": 0, "90+": 0, "unapplied": -1000, "total": 700}]
    assert revenue_reports.ar_aging(session, actor=clinic.biller, as_of=DAY)["by_payer"][0]["0-30"] == 27400
    assert revenue_reports.ar_aging(session, actor=clinic.biller, as_of=DAY + dt.timedelta(days=91))["by_payer"][0]["90+"] == 27400
    rows = list(csv.reader(io.StringIO(revenue_reports.aging_csv(session, actor=clinic.manager, as_of=DAY + dt.timedelta(days=45)))))
    assert rows == [["name", "0-30", "31-60", "61-90", "90+", "unapplied", "total"], ["Acme Health", "0.00", "274.00", "0.00", "0.00", "0.00", "274.00"]]
    with pytest.raises(NotAllowed):
        revenue_reports.ar_aging(session, actor=clinic.reception, as_of=DAY)


def test_clean_claim_and_denial_rates(session, clinic, month):
    clean = revenue_reports.clean_claim_rate(session, actor=clinic.manager, start=PERIOD[0], end=PERIOD[1])
    assert clean == {"clean": 1, "answered": 2, "pending": 1, "rate": 0.5}
    denial = revenue_reports.denial_rate(session, actor=clinic.manager, start=PERIOD[0], end=PERIOD[1])
    assert (denial["adjudicated"], denial["denied"], denial["rate"]) == (2, 1, 0.5)
    assert denial["by_reason"] == [{"reason": "CO-50", "words": "not medically necessary", "claims": 1, "share_of_denials": 1.0}]
    empty = revenue_reports.denial_rate(session, actor=clinic.manager, start=PERIOD[1], end=PERIOD[1] + dt.timedelta(days=30))
    assert (empty["adjudicated"], empty["rate"]) == (0, None)


def test_payments_by_period(session, clinic, month):
    by_month = revenue_reports.payments_by_period(session, actor=clinic.manager, start=dt.date(2030, 3, 1), end=dt.date(2030, 3, 31))
    assert by_month == [{"period": "2030-03", "insurance": 5000, "patient": 1000, "total": 6000}]
    by_day = revenue_reports.payments_by_period(session, actor=clinic.manager, start=dt.date(2030, 3, 1), end=dt.date(2030, 3, 31), grain="day")
    assert [(r["period"], r["total"]) for r in by_day] == [("2030-03-20", 5000), ("2030-03-21", 1000)]


def test_csv_cells_cannot_run_as_spreadsheet_formulas():
    text = revenue_reports.to_csv([{"name": "=HYPERLINK(1)", "total": -5}], ["name", "total"])
    assert text.splitlines()[1] == "'=HYPERLINK(1),-5"
