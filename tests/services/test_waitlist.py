"""The waitlist: a freed slot is offered to the best-fitting waiting patients first."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.models import Patient, WaitlistEntry
from clinic_app.services.frontdesk import scheduling, waitlist
from clinic_app.services.platform.errors import IllegalTransition, InvalidInput
from tests.conftest import DAY
from tests.services.helpers import book, now_at


def _wait(session, clinic, patient, *, provider=None, start="", end="", kind=None, days_ago=0):
    return waitlist.add_to_waitlist(
        session, actor=clinic.reception, patient_id=patient.id, location_id=clinic.location.id,
        appointment_type_id=(kind or clinic.treatment).id, earliest_day=DAY - dt.timedelta(days=1),
        latest_day=DAY + dt.timedelta(days=7), provider_id=clinic.providers[provider].id if provider is not None else None,
        preferred_from=start, preferred_until=end, now=now_at("07:00") - dt.timedelta(days=days_ago),
    )


def _freed(session, clinic, hhmm="09:00"):
    appt = book(session, clinic, hhmm, provider=0, patient=0)
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="cancelled", now=now_at("07:00"))
    return appt


def test_a_freed_slot_is_offered_best_fit_first(session, clinic):
    extra = [Patient(mrn=f"W{i}", first_name=n, last_name="Wait", birth_date=dt.date(1990, 1, i + 1)) for i, n in enumerate(["Ida", "Jo", "Kai"])]
    session.add_all(extra)
    session.commit()
    _wait(session, clinic, extra[0], days_ago=10)  # any provider, any time, waited longest
    _wait(session, clinic, extra[1], provider=0, start="08:00", end="12:00", days_ago=1)  # best: this provider, mornings
    _wait(session, clinic, extra[2], provider=1)  # another provider: not offered
    _wait(session, clinic, clinic.patients[1], start="13:00", end="17:00", days_ago=20)  # afternoons only
    freed = _freed(session, clinic)
    offers = waitlist.offers_for_slot(session, actor=clinic.reception, appointment_id=freed.id, now=now_at("07:00"))
    assert [(o["patient_name"], o["why"]) for o in offers] == [
        ("Wait, Jo", "asked for this provider; inside their preferred hours; wants a treatment; waiting 1 day"),
        ("Wait, Ida", "wants a treatment; waiting 10 days"),
        ("Fox, Eli", "outside their preferred hours; wants a treatment; waiting 20 days"),
    ]


def test_busy_patients_and_longer_visits_are_not_offered(session, clinic):
    _wait(session, clinic, clinic.patients[1])
    _wait(session, clinic, clinic.patients[2], kind=clinic.evaluation)  # 60 min does not fit 30
    book(session, clinic, "09:00", provider=1, patient=1)  # Eli is busy then
    freed = _freed(session, clinic)
    assert waitlist.offers_for_slot(session, actor=clinic.reception, appointment_id=freed.id, now=now_at("07:00")) == []


def test_booking_an_offer_takes_the_patient_off_the_list(session, clinic):
    entry = _wait(session, clinic, clinic.patients[2])
    freed = _freed(session, clinic)
    appt = waitlist.book_offer(session, actor=clinic.reception, entry_id=entry.id, freed_appointment_id=freed.id, now=now_at("07:00"))
    assert (appt.patient_id, appt.starts_at) == (clinic.patients[2].id, freed.starts_at)
    session.refresh(entry)
    assert (entry.status, entry.booked_appointment_id) == ("booked", appt.id)
    assert waitlist.waiting(session, actor=clinic.reception, location_id=clinic.location.id) == []


def test_only_freed_slots_are_offered_and_input_is_checked(session, clinic):
    appt = book(session, clinic, "09:00")
    with pytest.raises(IllegalTransition, match="Only a cancelled or no-show visit"):
        waitlist.offers_for_slot(session, actor=clinic.reception, appointment_id=appt.id)
    with pytest.raises(InvalidInput, match="last day must be on or after"):
        waitlist.add_to_waitlist(
            session, actor=clinic.reception, patient_id=clinic.patients[0].id, location_id=clinic.location.id,
            appointment_type_id=clinic.treatment.id, earliest_day=DAY, latest_day=DAY - dt.timedelta(days=1), now=now_at("07:00"),
        )
    assert session.exec(select(WaitlistEntry)).all() == []
