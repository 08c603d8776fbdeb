"""The desk's board rules: a closed day and the next open one, the demo clinic's weekend, and
cancelling or marking a no-show only with a reason, said beforehand whether it is late."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.models import Appointment, AppointmentEvent, Location
from clinic_app.services.frontdesk import board, recurring, scheduling
from clinic_app.services.platform import demo
from clinic_app.services.platform.errors import InvalidInput, NotAllowed
from tests.conftest import DAY, at
from tests.services.helpers import book, now_at

SATURDAY = DAY + dt.timedelta(days=4)  # DAY is a Tuesday


def _week(session, clinic, days: range, provider: int = 0) -> None:
    scheduling.set_week_hours(session, actor=clinic.reception, provider_id=clinic.providers[provider].id,
                              week={d: [("08:00", "17:00")] if d in days else [] for d in range(7)})


def test_a_day_nobody_works_is_closed_and_names_the_next_open_day(session, clinic):
    for provider in (0, 1):
        _week(session, clinic, range(5), provider)  # Monday to Friday
    view = board.board_day(session, actor=clinic.reception, location_id=clinic.location.id, day=SATURDAY)
    assert view.closed == [SATURDAY.isoformat()]
    assert view.next_open == SATURDAY + dt.timedelta(days=2)  # Monday
    week = board.board_day(session, actor=clinic.reception, location_id=clinic.location.id, day=DAY, days=7)
    assert week.closed == [SATURDAY.isoformat(), (SATURDAY + dt.timedelta(days=1)).isoformat()]
    # One provider working Saturdays opens the location; a provider with no hours set works any day.
    _week(session, clinic, range(6), 1)
    assert board.board_day(session, actor=clinic.reception, location_id=clinic.location.id, day=SATURDAY).closed == []
    scheduling.set_week_hours(session, actor=clinic.reception, provider_id=clinic.providers[1].id,
                              week={d: [] for d in range(7)})  # no hours set at all
    view = board.board_day(session, actor=clinic.reception, location_id=clinic.location.id,
                           day=SATURDAY + dt.timedelta(days=1))
    assert (view.closed, view.next_open) == ([], None)


def test_time_off_all_day_closes_the_day(session, clinic):
    _week(session, clinic, range(7), 0)
    _week(session, clinic, range(6, 7), 1)  # Sundays only
    scheduling.add_time_off(session, actor=clinic.reception, provider_id=clinic.providers[0].id,
                            starts_at=at("00:00"), ends_at=at("23:59"), reason="Course")
    view = board.board_day(session, actor=clinic.reception, location_id=clinic.location.id, day=DAY)
    assert view.closed == [DAY.isoformat()] and view.next_open == DAY + dt.timedelta(days=1)


def test_the_demo_clinic_has_a_working_board_on_a_sunday(session, fast_hash):
    sunday_noon = dt.datetime(2030, 3, 17, 16, 0, tzinfo=dt.UTC)  # 12:00 in New York
    demo.load(session, patients=40, now=sunday_noon)
    riverside, lakeside = session.exec(select(Location).order_by(Location.id)).all()
    sunday = dt.date(2030, 3, 17)
    open_view = board.board_day(session, actor=_desk(), location_id=riverside.id, day=sunday)
    assert open_view.closed == [] and open_view.cards
    working = {c["provider_id"] for c in open_view.cards}
    assert len(working) == 2
    closed_view = board.board_day(session, actor=_desk(), location_id=lakeside.id, day=sunday)
    assert closed_view.closed == [sunday.isoformat()] and closed_view.cards == []
    assert closed_view.next_open == sunday + dt.timedelta(days=1)


def _desk():
    from clinic_app.services.platform.actor import Actor

    return Actor(user_id=1, role="reception", name="desk")


def test_cancelling_needs_a_reason_and_says_beforehand_whether_it_is_late(session, clinic):
    today = book(session, clinic, "09:00")
    terms = scheduling.release_terms(session, appointment_id=today.id, to_status="cancelled", now=now_at("07:00"))
    assert terms.late and "late cancellation: it starts in 2 h" in terms.words
    assert terms.patient_name == f"{clinic.patients[0].last_name}, {clinic.patients[0].first_name}"
    assert terms.when == "Tue 12 Mar 09:00-09:30"
    with pytest.raises(InvalidInput, match="Enter the reason for the cancellation"):
        scheduling.release(session, actor=clinic.reception, appointment_id=today.id, to_status="cancelled",
                           reason="  ", now=now_at("07:00"))
    assert session.get(Appointment, today.id).status == "booked"  # nothing changed
    with pytest.raises(NotAllowed):
        scheduling.release(session, actor=clinic.biller, appointment_id=today.id, to_status="cancelled",
                           reason="Unwell", now=now_at("07:00"))
    done = scheduling.release(session, actor=clinic.reception, appointment_id=today.id, to_status="cancelled",
                              reason="Unwell", now=now_at("07:00"))
    assert (done.status, done.late_cancel, done.cancel_reason) == ("cancelled", True, "Unwell")

    ahead = scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[1].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.treatment.id, starts_at=at("09:00", DAY + dt.timedelta(days=3)),
        now=now_at("07:00"))
    terms = scheduling.release_terms(session, appointment_id=ahead.id, to_status="cancelled", now=now_at("07:00"))
    assert not terms.late and terms.words.startswith("This is not a late cancellation")


def test_a_no_show_needs_a_reason_too_and_keeps_it_on_the_visits_history(session, clinic):
    appt = book(session, clinic, "09:00")
    with pytest.raises(InvalidInput, match="reason for the no-show"):
        scheduling.release(session, actor=clinic.reception, appointment_id=appt.id, to_status="no_show", reason="",
                           now=now_at("09:20"))
    scheduling.release(session, actor=clinic.reception, appointment_id=appt.id, to_status="no_show",
                       reason="Did not answer the phone", now=now_at("09:20"))
    event = session.exec(select(AppointmentEvent).where(AppointmentEvent.appointment_id == appt.id,
                                                        AppointmentEvent.to_status == "no_show")).one()
    assert event.note == "Did not answer the phone"
    with pytest.raises(InvalidInput):
        scheduling.release(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived",
                           reason="x", now=now_at("09:20"))


def test_cancelling_a_series_from_here_on_needs_a_reason(session, clinic):
    _, visits, _ = recurring.book_series(
        session, actor=clinic.reception, patient_id=clinic.patients[0].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.treatment.id, first_day=DAY, time="10:00", weekdays=[DAY.weekday()], weeks=2,
        now=now_at("07:00"))
    with pytest.raises(InvalidInput, match="Enter the reason"):
        recurring.cancel_following(session, actor=clinic.reception, appointment_id=visits[0].id, reason="",
                                   now=now_at("07:00"))
    assert {session.get(Appointment, v.id).status for v in visits} == {"booked"}


def test_a_move_is_published_once_per_screen_that_showed_or_shows_it(monkeypatch, session, clinic):
    from clinic_app.live import AppointmentChanged, bus

    published: list[AppointmentChanged] = []
    monkeypatch.setattr(bus, "publish", published.append)
    appt = book(session, clinic, "09:00")
    session.commit()

    def move(**change):
        published.clear()
        scheduling.reschedule(session, actor=clinic.reception, appointment_id=appt.id, now=now_at("07:00"), **change)
        session.commit()
        return [(e.provider_id, e.day) for e in published]

    ann, bo = clinic.providers[0].id, clinic.providers[1].id
    day, next_day = DAY.isoformat(), (DAY + dt.timedelta(days=1)).isoformat()
    # Same provider and day: one event (every board of the day and her list show it already).
    assert move(starts_at=at("10:00")) == [(ann, day)]
    # Another provider: his list gains it, hers loses it.
    assert move(starts_at=at("10:00"), provider_id=bo) == [(ann, day), (bo, day)]
    # Another day: the boards of both days.
    assert move(starts_at=at("10:00", DAY + dt.timedelta(days=1))) == [(bo, day), (bo, next_day)]
