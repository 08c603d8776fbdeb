"""Working hours, time off, patient double booking, moves kept as history, late
cancellation and check-out."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.models import Appointment
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform.errors import IllegalTransition, InvalidInput, NotAllowed, OutsideHours, SlotTaken
from tests.conftest import DAY, at
from tests.services.helpers import book, now_at

TUESDAY = DAY.weekday()


def _hours(session, clinic, windows=(("08:00", "12:00"), ("13:00", "17:00")), provider=0):
    scheduling.set_hours(
        session, actor=clinic.admin, provider_id=clinic.providers[provider].id, weekday=TUESDAY, windows=list(windows),
    )


def test_booking_outside_working_hours_names_the_hours(session, clinic):
    _hours(session, clinic)
    with pytest.raises(OutsideHours, match=r"Ann Able, PT works 08:00-12:00, 13:00-17:00 on Tuesdays; 12:00-12:30 is outside"):
        book(session, clinic, "12:00")
    with pytest.raises(OutsideHours, match="11:45-12:15 is outside"):
        book(session, clinic, "11:45")
    assert session.exec(select(Appointment)).all() == []
    assert book(session, clinic, "11:30").status == "booked"
    assert book(session, clinic, "13:00", patient=1).status == "booked"


def test_a_day_without_hours_is_refused_when_hours_are_set(session, clinic):
    scheduling.set_hours(session, actor=clinic.admin, provider_id=clinic.providers[0].id, weekday=0, windows=[("08:00", "17:00")])
    with pytest.raises(OutsideHours, match="Ann Able, PT does not work on Tuesdays"):
        book(session, clinic, "09:00")
    # A provider with no hours at all is bookable at any time.
    assert book(session, clinic, "09:00", provider=1).status == "booked"


def test_time_off_is_refused_with_the_reason(session, clinic):
    scheduling.add_time_off(session, actor=clinic.reception, provider_id=clinic.providers[0].id,
                            starts_at=at("12:00"), ends_at=at("18:00"), reason="Course")
    with pytest.raises(OutsideHours, match=r"Ann Able, PT is off from 2030-03-12 12:00 to 2030-03-12 18:00 \(Course\)"):
        book(session, clinic, "14:00")
    assert book(session, clinic, "11:30").status == "booked"


def test_time_off_over_a_booked_visit_is_refused(session, clinic):
    book(session, clinic, "14:00")
    with pytest.raises(SlotTaken, match="has an appointment 2030-03-12 14:00 in that time"):
        scheduling.add_time_off(session, actor=clinic.reception, provider_id=clinic.providers[0].id,
                                starts_at=at("12:00"), ends_at=at("18:00"))


def test_hours_are_checked(session, clinic):
    with pytest.raises(InvalidInput, match="must not overlap"):
        _hours(session, clinic, windows=[("08:00", "12:00"), ("11:00", "13:00")])
    with pytest.raises(InvalidInput, match="must start before it ends"):
        _hours(session, clinic, windows=[("12:00", "08:00")])
    with pytest.raises(NotAllowed):
        scheduling.set_hours(session, actor=clinic.biller, provider_id=clinic.providers[0].id, weekday=1, windows=[])


def test_a_patient_cannot_be_booked_twice_at_once(session, clinic):
    book(session, clinic, "09:00", provider=0, patient=0)
    with pytest.raises(SlotTaken, match="Cara Diaz already has an appointment 09:00-09:30 with Ann Able, PT"):
        book(session, clinic, "09:15", provider=1, patient=0)
    assert len(session.exec(select(Appointment)).all()) == 1


def test_the_database_refuses_a_patient_double_booking(engine, session, clinic):
    book(session, clinic, "09:00", provider=0, patient=0)
    raw_appt = Appointment(
        patient_id=clinic.patients[0].id, provider_id=clinic.providers[1].id, location_id=clinic.location.id,
        appointment_type_id=clinic.treatment.id, starts_at=at("09:15"), ends_at=at("09:45"),
    )
    session.commit()  # the test is the caller: its work is saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError):
        raw.add(raw_appt)
        raw.commit()


def test_moving_keeps_the_old_slot_as_history(session, clinic):
    appt = book(session, clinic, "09:00", room=0)
    moved = scheduling.reschedule(
        session, actor=clinic.reception, appointment_id=appt.id, starts_at=at("10:00"),
        provider_id=clinic.providers[1].id, reason="Patient asked", now=now_at("07:00"),
    )
    assert (moved.id, moved.starts_at, moved.provider_id, moved.room_id) == (appt.id, at("10:00"), clinic.providers[1].id, clinic.rooms[0].id)
    [move] = scheduling.moves(session, appointment_id=appt.id)
    assert (move.old_starts_at, move.old_provider_id, move.new_starts_at, move.reason, move.user_id) == (
        at("09:00"), clinic.providers[0].id, at("10:00"), "Patient asked", clinic.reception.user_id,
    )
    # The old slot is free again.
    assert book(session, clinic, "09:00", patient=1).status == "booked"


def test_changing_the_duration(session, clinic):
    appt = book(session, clinic, "09:00")
    book(session, clinic, "10:00", patient=1)
    longer = scheduling.reschedule(session, actor=clinic.reception, appointment_id=appt.id, starts_at=at("09:00"),
                                   duration_minutes=60, now=now_at("07:00"))
    assert longer.ends_at == at("10:00")
    with pytest.raises(SlotTaken, match="Ann Able, PT already has an appointment 10:00-10:30"):
        scheduling.reschedule(session, actor=clinic.reception, appointment_id=appt.id, starts_at=at("09:00"),
                              duration_minutes=75, now=now_at("07:00"))
    session.refresh(appt)
    assert appt.ends_at == at("10:00")


def test_a_move_obeys_every_booking_rule(session, clinic):
    _hours(session, clinic)
    appt = book(session, clinic, "09:00")
    book(session, clinic, "10:00", provider=1, patient=0 + 1)
    with pytest.raises(OutsideHours, match="12:15-12:45 is outside"):
        scheduling.reschedule(session, actor=clinic.reception, appointment_id=appt.id, starts_at=at("12:15"), now=now_at("07:00"))
    with pytest.raises(SlotTaken, match="Bo Baker, PT already has"):
        scheduling.reschedule(session, actor=clinic.reception, appointment_id=appt.id, starts_at=at("10:00"),
                              provider_id=clinic.providers[1].id, now=now_at("07:00"))
    with pytest.raises(InvalidInput, match="has already passed"):
        scheduling.reschedule(session, actor=clinic.reception, appointment_id=appt.id, starts_at=at("06:00"), now=now_at("07:00"))
    assert scheduling.moves(session, appointment_id=appt.id) == []


def test_only_booked_visits_move(session, clinic):
    appt = book(session, clinic, "09:00")
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=now_at("08:50"))
    with pytest.raises(IllegalTransition, match="Only booked visits can be moved; this one is Arrived"):
        scheduling.reschedule(session, actor=clinic.reception, appointment_id=appt.id, starts_at=at("11:00"), now=now_at("08:50"))
    with pytest.raises(NotAllowed):
        scheduling.reschedule(session, actor=clinic.clinician, appointment_id=appt.id, starts_at=at("11:00"), now=now_at("08:50"))


@pytest.mark.parametrize(("cancelled_at", "late"), [(at("09:00", DAY - dt.timedelta(days=2)), False), (now_at("07:00"), True)])
def test_cancellation_inside_the_window_is_late(session, clinic, cancelled_at, late):
    appt = scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[0].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.treatment.id, starts_at=at("09:00"), now=cancelled_at,
    )
    done = scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="cancelled",
                                 reason="Unwell", now=cancelled_at)
    assert (done.late_cancel, done.cancel_reason) == (late, "Unwell")


def test_the_late_cancel_window_is_the_locations(session, clinic):
    clinic.location.late_cancel_hours = 1
    session.add(clinic.location)
    session.commit()
    appt = book(session, clinic, "09:00")
    done = scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="cancelled", now=now_at("07:00"))
    assert done.late_cancel is False


def test_check_out_once_after_check_in(session, clinic):
    appt = book(session, clinic, "09:00")
    with pytest.raises(IllegalTransition, match="Only a checked-in patient can be checked out"):
        scheduling.check_out(session, actor=clinic.reception, appointment_id=appt.id, now=now_at("08:50"))
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=now_at("08:50"))
    out = scheduling.check_out(session, actor=clinic.reception, appointment_id=appt.id, now=now_at("09:40"))
    assert out.checked_out_at == now_at("09:40")
    with pytest.raises(IllegalTransition, match="already checked out"):
        scheduling.check_out(session, actor=clinic.reception, appointment_id=appt.id, now=now_at("09:41"))


def test_the_board_shades_hours_and_time_off_and_shows_the_wait(session, clinic):
    from clinic_app.services.frontdesk import board

    _hours(session, clinic)
    scheduling.add_time_off(session, actor=clinic.reception, provider_id=clinic.providers[0].id,
                            starts_at=at("15:00"), ends_at=at("09:00", DAY + dt.timedelta(days=1)), reason="Course")
    appt = book(session, clinic, "09:00")
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=now_at("08:52"))
    scheduling.transition(session, actor=clinic.clinician, appointment_id=appt.id, to_status="in_session", now=now_at("09:04"))
    view = board.board_day(session, actor=clinic.reception, location_id=clinic.location.id, day=DAY, days=2)
    ann = clinic.providers[0].id
    spans = sorted((b["day"], b["start_minute"], b["end_minute"], b["label"]) for b in view.blocks if b["provider_id"] == ann)
    day1, day2 = DAY.isoformat(), (DAY + dt.timedelta(days=1)).isoformat()
    assert spans == [
        (day1, 0, 480, "Not working"), (day1, 720, 780, "Not working"), (day1, 900, 1440, "Time off: Course"),
        (day1, 1020, 1440, "Not working"),
        (day2, 0, 540, "Time off: Course"),  # Wednesday: no hours set for it, time off until 09:00
        (day2, 0, 1440, "Not working"),
    ]
    assert not [b for b in view.blocks if b["provider_id"] == clinic.providers[1].id]  # no hours set: never shaded
    [card] = view.cards
    assert card["duration"] == 30
    # The front-desk times come with the selected visit's card (the board's cards leave them out).
    card = board.card(session, appointment_id=appt.id)
    assert (card["arrived_label"], card["wait_minutes"], card["duration"]) == ("08:52", 12, 30)


def test_a_week_of_hours_is_saved_all_or_nothing(session, clinic):
    ann = clinic.providers[0].id
    with pytest.raises(InvalidInput, match="Wednesdays: 13:00-12:00 must start before it ends"):
        scheduling.set_week_hours(session, actor=clinic.reception, provider_id=ann,
                                  week={0: [("08:00", "17:00")], 2: [("13:00", "12:00")]})
    assert scheduling.hours_of(session, provider_id=ann) == {}
    scheduling.set_week_hours(session, actor=clinic.reception, provider_id=ann,
                              week={0: [("08:00", "12:00"), ("13:00", "17:00")], 1: [("08:00", "17:00")], 2: []})
    assert scheduling.hours_of(session, provider_id=ann) == {0: [(480, 720), (780, 1020)], 1: [(480, 1020)]}


def test_the_desk_sees_the_visit_days_insurance(session, clinic):
    from clinic_app.models import Coverage, Payer
    from clinic_app.services.frontdesk import board

    appt = book(session, clinic, "09:00")
    assert board.coverage_label(session, appointment_id=appt.id) == "No insurance on file for this day (self-pay)"
    payer = Payer(name="Acme Health", payer_id="ACME1")
    session.add(payer)
    session.flush()
    session.add(Coverage(patient_id=clinic.patients[0].id, payer_id=payer.id, member_id="XY123", effective_from=DAY))
    session.commit()
    assert board.coverage_label(session, appointment_id=appt.id) == "Acme Health, member XY123"
