"""Booking rules and the appointment state machine."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest
from sqlmodel import Session, select

from clinic_app.models import Appointment, AppointmentEvent, AuditLog
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform.errors import IllegalTransition, InvalidInput, NotAllowed, SlotTaken
from tests.conftest import at
from tests.services.helpers import book, now_at, until_a_booking_waits


def test_booking_a_free_slot_records_who_and_when(session, clinic):
    appt = book(session, clinic, "09:00")
    assert appt.status == "booked"
    assert appt.ends_at - appt.starts_at == at("09:30") - at("09:00")
    events = scheduling.history(session, appointment_id=appt.id)
    assert [(e.from_status, e.to_status, e.user_id) for e in events] == [(None, "booked", clinic.reception.user_id)]
    assert session.exec(select(AuditLog).where(AuditLog.entity == "appointment")).first().patient_id == clinic.patients[0].id


def test_booking_over_a_provider_appointment_names_the_clash(session, clinic):
    book(session, clinic, "09:00")
    with pytest.raises(SlotTaken, match=r"Ann Able, PT already has an appointment 09:00-09:30"):
        book(session, clinic, "09:15", patient=1)
    assert len(session.exec(select(Appointment)).all()) == 1


def test_back_to_back_bookings_do_not_clash(session, clinic):
    book(session, clinic, "09:00")
    assert book(session, clinic, "09:30", patient=1).status == "booked"


def test_booking_a_room_that_is_taken_is_refused(session, clinic):
    book(session, clinic, "10:00", provider=0, room=0)
    with pytest.raises(SlotTaken, match="Room 1 is booked 10:00-10:30"):
        book(session, clinic, "10:15", provider=1, patient=1, room=0)
    assert book(session, clinic, "10:15", provider=1, patient=1, room=1).room_id == clinic.rooms[1].id


def test_a_cancelled_slot_can_be_booked_again(session, clinic):
    appt = book(session, clinic, "09:00")
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="cancelled", reason="Unwell", now=now_at("07:00"))
    assert book(session, clinic, "09:00", patient=1).status == "booked"


@pytest.mark.parametrize(
    ("field", "message"),
    [("past", "has already passed"), ("patient", "Choose a patient"), ("type", "Choose an appointment type")],
)
def test_bad_booking_input_is_refused_and_saves_nothing(session, clinic, field, message):
    kwargs = {
        "actor": clinic.reception, "patient_id": clinic.patients[0].id, "provider_id": clinic.providers[0].id,
        "appointment_type_id": clinic.treatment.id, "starts_at": at("09:00"), "now": now_at("07:00"),
    }
    if field == "past":
        kwargs["now"] = now_at("09:01")
    elif field == "patient":
        kwargs["patient_id"] = 999_999
    else:
        kwargs["appointment_type_id"] = 999_999
    with pytest.raises(InvalidInput, match=message):
        scheduling.book_appointment(session, **kwargs)
    assert session.exec(select(Appointment)).all() == []


def test_only_reception_books(session, clinic):
    for actor in (clinic.clinician, clinic.biller, clinic.manager, clinic.admin):
        with pytest.raises(NotAllowed):
            scheduling.book_appointment(
                session, actor=actor, patient_id=clinic.patients[0].id, provider_id=clinic.providers[0].id,
                appointment_type_id=clinic.treatment.id, starts_at=at("09:00"), now=now_at("07:00"),
            )


def test_the_whole_visit_path_is_recorded(session, clinic):
    appt = book(session, clinic, "09:00")
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=now_at("08:55"))
    scheduling.transition(session, actor=clinic.clinician, appointment_id=appt.id, to_status="in_session", now=now_at("09:02"))
    appt = session.get(Appointment, appt.id)
    assert appt.status == "in_session"
    assert (appt.session_started_at - appt.arrived_at).total_seconds() == 7 * 60  # the wait time
    events = scheduling.history(session, appointment_id=appt.id)
    assert [e.to_status for e in events] == ["booked", "arrived", "in_session"]
    assert events[2].user_id == clinic.clinician.user_id


ILLEGAL = [
    ("booked", "in_session"),
    ("booked", "billed"),
    ("arrived", "no_show"),
    ("arrived", "billed"),
    ("cancelled", "arrived"),
    ("no_show", "arrived"),
]


@pytest.mark.parametrize(("start", "target"), ILLEGAL)
def test_illegal_transitions_raise_and_change_nothing(session, clinic, start, target):
    appt = book(session, clinic, "09:00")
    path = {"booked": [], "arrived": ["arrived"], "cancelled": ["cancelled"], "no_show": ["no_show"]}[start]
    for step in path:
        scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status=step, now=now_at("09:05"))
    actor = {"in_session": clinic.clinician, "billed": clinic.biller}.get(target, clinic.reception)
    with pytest.raises(IllegalTransition):
        scheduling.transition(session, actor=actor, appointment_id=appt.id, to_status=target, now=now_at("09:10"))
    session.expire_all()
    assert session.get(Appointment, appt.id).status == start
    assert len(scheduling.history(session, appointment_id=appt.id)) == 1 + len(path)


def test_ready_to_bill_comes_only_from_signing(session, clinic):
    appt = book(session, clinic, "09:00")
    with pytest.raises(IllegalTransition, match="only when its note is signed"):
        scheduling.transition(session, actor=clinic.clinician, appointment_id=appt.id, to_status="ready_to_bill")


def test_roles_are_checked_per_transition(session, clinic):
    appt = book(session, clinic, "09:00")
    with pytest.raises(NotAllowed, match="may not check patients in"):
        scheduling.transition(session, actor=clinic.clinician, appointment_id=appt.id, to_status="arrived", now=now_at("09:00"))
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=now_at("09:00"))
    with pytest.raises(NotAllowed, match="Only the visit's own clinician"):
        scheduling.transition(session, actor=clinic.clinician2, appointment_id=appt.id, to_status="in_session", now=now_at("09:00"))


def test_no_show_only_after_the_start_and_check_in_only_on_the_day(session, clinic):
    appt = book(session, clinic, "09:00")
    with pytest.raises(InvalidInput, match="only after its start time"):
        scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="no_show", now=now_at("08:59"))
    with pytest.raises(InvalidInput, match="only on the day"):
        scheduling.transition(
            session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=now_at("09:00") - (at("09:00") - at("09:00").replace(day=11))
        )
    assert scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="no_show", now=now_at("09:20")).status == "no_show"


def test_a_desk_acting_on_an_old_board_is_told_the_current_status(engine, session, clinic):
    appt = book(session, clinic, "09:00")
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=now_at("09:00"))
    session.commit()
    with Session(engine) as other, pytest.raises(IllegalTransition, match=r"Arrived cannot become No-show"):
        # The other desk still shows Booked and tries a no-show: the status moved on.
        scheduling.transition(other, actor=clinic.reception, appointment_id=appt.id, to_status="no_show", now=now_at("09:30"))




def test_bookings_that_cross_at_once_are_refused_in_words_not_with_a_database_error(engine, session, clinic):
    """Desk 1 books 09:00 and, before saving, 09:30; meanwhile desk 2 books 09:15, which overlaps
    both. On PostgreSQL the two inserts wait for each other on the no-overlap rule and the server
    stops one ("deadlock detected"); on SQLite desk 2 waits for desk 1. Either way whoever loses is
    told the slot was taken, and no two visits overlap."""
    def booking(s, hhmm: str, patient: int) -> Appointment:
        return scheduling.book_appointment(
            s, actor=clinic.reception, patient_id=clinic.patients[patient].id, provider_id=clinic.providers[0].id,
            appointment_type_id=clinic.treatment.id, starts_at=at(hhmm), now=now_at("07:00"))

    outcomes: list[object] = []

    def desk2() -> None:
        with Session(engine, expire_on_commit=False) as s:
            try:
                made = booking(s, "09:15", 1)
                s.commit()
                outcomes.append(made)
            except Exception as exc:  # looked at below: it must be a refusal in words
                s.rollback()
                outcomes.append(exc)

    with Session(engine, expire_on_commit=False) as desk1:
        booking(desk1, "09:00", 0)
        other = threading.Thread(target=desk2)
        other.start()
        until_a_booking_waits(engine)
        try:
            outcomes.append(booking(desk1, "09:30", 2))
        except SlotTaken as exc:  # PostgreSQL may stop this one instead
            outcomes.append(exc)
        desk1.commit()
        other.join()
    refused = [o for o in outcomes if not isinstance(o, Appointment)]
    assert refused and all(isinstance(o, SlotTaken) for o in refused), outcomes
    # "That slot was just taken; ...", "The provider already has an appointment at that time.", or
    # (SQLite, desk 2 checking after desk 1 saved) "Ann Able, PT already has an appointment 09:00-09:30; ..."
    assert all(str(o).endswith(("choose another time.", "at that time.")) for o in refused), refused
    session.expire_all()
    saved = sorted(a.starts_at for a in session.exec(select(Appointment)))
    assert saved[0] == at("09:00") and all(b >= a + dt.timedelta(minutes=30) for a, b in itertools.pairwise(saved))


def test_two_desks_booking_one_slot_at_once_exactly_one_wins(engine, session, clinic):
    barrier = threading.Barrier(6)
    results: list[object] = []

    def desk(patient_index: int) -> None:
        with Session(engine, expire_on_commit=False) as s:
            barrier.wait()
            try:
                results.append(book(s, clinic, "11:00", patient=patient_index % 3))
            except SlotTaken as exc:
                results.append(exc)

    threads = [threading.Thread(target=desk, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if isinstance(r, Appointment)]
    assert len(wins) == 1, results
    assert all(isinstance(r, SlotTaken) for r in results if r is not wins[0])
    session.expire_all()
    assert len(session.exec(select(Appointment)).all()) == 1
    assert len(session.exec(select(AppointmentEvent)).all()) == 1
