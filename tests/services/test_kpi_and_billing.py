"""Day KPIs against a hand-computed fixture, and the billing queue."""

from __future__ import annotations

import datetime as dt

from clinic_app.services.charting import charting
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.kpi import kpi
from clinic_app.services.revenue import billing
from tests.conftest import DAY, at
from tests.services.helpers import book, charted_note, now_at


def test_day_kpis_match_a_hand_computed_day(session, clinic):
    # 09:00 signed 10 min after its end; 10:00 signed 30 min after; 11:00 in session;
    # 12:00 no-show; 13:00 cancelled; 14:00 booked. Plus one visit the next day.
    _, n1 = charted_note(session, clinic, "09:00")
    charting.sign_note(session, actor=clinic.clinician, note_id=n1.id, now=at("09:40"))
    _, n2 = charted_note(session, clinic, "10:00")
    charting.add_procedure(session, actor=clinic.clinician, note_id=n2.id, code="97161", units=1)
    charting.sign_note(session, actor=clinic.clinician, note_id=n2.id, now=at("11:00"))
    charted_note(session, clinic, "11:00")
    noshow = book(session, clinic, "12:00")
    scheduling.transition(session, actor=clinic.reception, appointment_id=noshow.id, to_status="no_show", now=now_at("12:20"))
    cancelled = book(session, clinic, "13:00")
    scheduling.transition(session, actor=clinic.reception, appointment_id=cancelled.id, to_status="cancelled", now=now_at("08:00"))
    book(session, clinic, "14:00")
    scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[0].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.treatment.id, starts_at=at("09:00", DAY + dt.timedelta(days=1)), now=now_at("07:00"),
    )

    figures = kpi.day_kpis(session, actor=clinic.manager, location_id=clinic.location.id, day=DAY)
    counts = {s["status"]: s["count"] for s in figures["by_status"]}
    assert counts == {"booked": 1, "arrived": 0, "in_session": 1, "ready_to_bill": 2, "billed": 0, "no_show": 1, "cancelled": 1}
    assert figures["scheduled"] == 6
    assert figures["no_show_rate"] == 1 / 6  # no-shows / (scheduled - cancelled in advance); 13:00 was a late cancel
    assert figures["awaiting_signature"] == 1
    assert round(figures["median_lag_minutes"], 3) == 20.0  # median of 10 and 30
    assert figures["charges_cents"] == 9000 + 9000 + 15000


def test_kpis_of_an_empty_day_have_no_rates(session, clinic):
    figures = kpi.day_kpis(session, actor=clinic.manager, location_id=clinic.location.id, day=DAY)
    assert (figures["scheduled"], figures["no_show_rate"], figures["median_lag_minutes"], figures["charges_cents"]) == (0, None, None, 0)


def test_billing_queue_lists_signed_visits_until_billed(session, clinic):
    appt, note = charted_note(session, clinic, "09:00")
    assert billing.queue(session, actor=clinic.biller, location_id=clinic.location.id) == []
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    rows = billing.queue(session, actor=clinic.biller, location_id=clinic.location.id)
    assert [(r["patient_name"], r["total"], r["status_label"], [c["code"] for c in r["charges"]]) for r in rows] == [
        ("Diaz, Cara", "90.00", "Ready to bill", ["97110"])
    ]
    billing.mark_billed(session, actor=clinic.biller, appointment_id=appt.id)
    assert billing.queue(session, actor=clinic.biller, location_id=clinic.location.id) == []
    assert billing.queue_row(session, appointment_id=appt.id)["status"] == "billed"
