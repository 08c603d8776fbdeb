"""Recurring series: the per-occurrence conflict report, all-or-nothing, skipping exceptions."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import pytest
from sqlmodel import Session, select

from clinic_app.models import Appointment, AppointmentSeries, SeriesMember
from clinic_app.services.frontdesk import recurring, scheduling
from clinic_app.services.frontdesk.recurring import SeriesConflict
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotAllowed, NotFound
from tests.conftest import DAY, at
from tests.services.helpers import book, now_at, until_a_booking_waits

THURSDAY = DAY + dt.timedelta(days=2)


def _series(session, clinic, **overrides):
    kwargs = {
        "actor": clinic.reception, "patient_id": clinic.patients[0].id, "provider_id": clinic.providers[0].id,
        "appointment_type_id": clinic.treatment.id, "first_day": DAY, "time": "09:00", "weekdays": [1, 3],
        "weeks": 6, "now": now_at("07:00"),
    }
    kwargs.update(overrides)
    return kwargs


def test_twice_a_week_for_six_weeks_books_twelve_visits(session, clinic):
    series, appointments, skipped = recurring.book_series(session, **_series(session, clinic))
    assert len(appointments) == 12 and skipped == []
    assert [a.starts_at for a in appointments[:3]] == [at("09:00"), at("09:00", THURSDAY), at("09:00", DAY + dt.timedelta(days=7))]
    members = session.exec(select(SeriesMember).where(SeriesMember.series_id == series.id)).all()
    assert sorted(m.occurrence for m in members) == list(range(1, 13))
    assert series.description == "Treatment with Ann Able, PT, Tue, Thu at 09:00 for 6 weeks"


def test_conflicts_are_reported_occurrence_by_occurrence_and_nothing_is_saved(session, clinic):
    book(session, clinic, "09:15", provider=0, patient=1)  # provider busy on the first Tuesday
    scheduling.book_appointment(  # the patient busy with someone else on the second Thursday
        session, actor=clinic.reception, patient_id=clinic.patients[0].id, provider_id=clinic.providers[1].id,
        appointment_type_id=clinic.treatment.id, starts_at=at("09:00", THURSDAY + dt.timedelta(days=7)), now=now_at("07:00"),
    )
    plan = recurring.plan_series(session, **_series(session, clinic))
    problems = [(o.number, o.label, o.problem) for o in plan if not o.ok]
    assert problems == [
        (1, "Tue 2030-03-12 09:00", "Ann Able, PT already has an appointment 09:15-09:45"),
        (4, "Thu 2030-03-21 09:00", "Cara Diaz already has an appointment 09:00-09:30 with Bo Baker, PT"),
    ]
    before = len(session.exec(select(Appointment)).all())
    with pytest.raises(SeriesConflict, match=r"2 of 12 visits cannot be booked \(Tue 2030-03-12 09:00: Ann Able") as info:
        recurring.book_series(session, **_series(session, clinic))
    assert len(info.value.occurrences) == 12
    assert len(session.exec(select(Appointment)).all()) == before
    assert session.exec(select(AppointmentSeries)).all() == []


def test_skipping_the_exceptions_books_the_rest(session, clinic):
    book(session, clinic, "09:15", provider=0, patient=1)
    _, appointments, skipped = recurring.book_series(session, **_series(session, clinic), skip_conflicts=True)
    assert len(appointments) == 11
    assert [o.number for o in skipped] == [1]


def test_working_hours_show_in_the_report(session, clinic):
    for weekday, hours in ((1, ("08:00", "17:00")), (3, ("13:00", "17:00"))):
        scheduling.set_hours(session, actor=clinic.admin, provider_id=clinic.providers[0].id, weekday=weekday, windows=[hours])
    plan = recurring.plan_series(session, **_series(session, clinic, weeks=1))
    assert [o.problem for o in plan] == ["", "Ann Able, PT works 13:00-17:00 on Thursdays; 09:00-09:30 is outside those hours"]


def test_series_input_is_checked(session, clinic):
    with pytest.raises(InvalidInput, match="at least one day of the week"):
        recurring.plan_series(session, **_series(session, clinic, weekdays=[]))
    with pytest.raises(InvalidInput, match="1 to 26 weeks"):
        recurring.plan_series(session, **_series(session, clinic, weeks=40))
    with pytest.raises(NotAllowed):
        recurring.book_series(session, **_series(session, clinic, actor=clinic.clinician))


def test_cancel_this_and_following(session, clinic):
    from clinic_app.services.frontdesk import board

    _, appointments, _ = recurring.book_series(session, **_series(session, clinic, weeks=2))
    first, second, third, fourth = appointments
    scheduling.transition(session, actor=clinic.reception, appointment_id=first.id, to_status="arrived", now=now_at("08:55"))
    cancelled = recurring.cancel_following(session, actor=clinic.reception, appointment_id=second.id,
                                           reason="Discharged early", now=now_at("08:55"))
    assert [a.id for a in cancelled] == [second.id, third.id, fourth.id]
    statuses = {a.id: session.get(Appointment, a.id).status for a in appointments}
    assert statuses == {first.id: "arrived", second.id: "cancelled", third.id: "cancelled", fourth.id: "cancelled"}
    assert session.get(Appointment, third.id).cancel_reason == "Discharged early"
    assert board.card(session, appointment_id=first.id)["in_series"] is True
    single = book(session, clinic, "15:00", patient=2)
    with pytest.raises(NotFound, match="not part of a series"):
        recurring.cancel_following(session, actor=clinic.reception, appointment_id=single.id, now=now_at("08:55"))
    with pytest.raises(NotAllowed):
        recurring.cancel_following(session, actor=clinic.biller, appointment_id=first.id, now=now_at("08:55"))


# -- "this and following" changes ------------------------------------------------------
def _booked_series(session, clinic):
    _, appointments, _ = recurring.book_series(session, **_series(session, clinic, weeks=3))
    return appointments  # Tue/Thu 09:00 for three weeks: six visits


def test_change_this_and_following_moves_only_those_keeping_history(session, clinic):
    visits = _booked_series(session, clinic)
    moved, skipped = recurring.change_following(
        session, actor=clinic.reception, appointment_id=visits[2].id, time="10:30", duration_minutes=45,
        provider_id=clinic.providers[1].id, reason="patient's new work hours", now=now_at("07:00"),
    )
    assert skipped == [] and [a.id for a in moved] == [v.id for v in visits[2:]]
    for visit in visits:
        session.refresh(visit)
    assert [v.starts_at for v in visits[:2]] == [at("09:00"), at("09:00", THURSDAY)]  # earlier ones untouched
    assert {v.provider_id for v in visits[:2]} == {clinic.providers[0].id}
    week2 = DAY + dt.timedelta(days=7)
    assert (visits[2].starts_at, visits[2].ends_at) == (at("10:30", week2), at("11:15", week2))
    assert {v.provider_id for v in visits[2:]} == {clinic.providers[1].id}
    history = scheduling.moves(session, appointment_id=visits[2].id)
    assert [(h.old_starts_at, h.new_starts_at, h.reason) for h in history] == [
        (at("09:00", week2), at("10:30", week2), "patient's new work hours")
    ]


def test_following_change_reports_each_clash_before_saving_anything(session, clinic):
    visits = _booked_series(session, clinic)
    week2_thu = THURSDAY + dt.timedelta(days=7)
    scheduling.book_appointment(  # Bo Baker is busy at 10:30 on the second Thursday
        session, actor=clinic.reception, patient_id=clinic.patients[1].id, provider_id=clinic.providers[1].id,
        appointment_type_id=clinic.treatment.id, starts_at=at("10:45", week2_thu), now=now_at("07:00"),
    )
    change = {"actor": clinic.reception, "appointment_id": visits[1].id, "time": "10:30",
              "provider_id": clinic.providers[1].id, "now": now_at("07:00")}
    plan = recurring.plan_following_change(session, **change)
    assert [(o.label, o.problem) for o, *_ in plan if not o.ok] == [
        ("Thu 2030-03-21 10:30", "Bo Baker, PT already has an appointment 10:45-11:15"),
    ]
    assert len(plan) == 5
    with pytest.raises(SeriesConflict, match=r"1 of 5 visits cannot be moved \(Thu 2030-03-21 10:30: Bo Baker") as info:
        recurring.change_following(session, **change)
    assert len(info.value.occurrences) == 5
    for visit in visits:
        session.refresh(visit)
    assert {v.provider_id for v in visits} == {clinic.providers[0].id}  # nothing was saved
    assert scheduling.moves(session, appointment_id=visits[1].id) == []
    # Skipping the clash moves the other four and leaves that one where it was.
    moved, skipped = recurring.change_following(session, **change, skip_conflicts=True)
    assert len(moved) == 4 and [o.label for o in skipped] == ["Thu 2030-03-21 10:30"]
    session.refresh(visits[3])
    assert (visits[3].starts_at, visits[3].provider_id) == (at("09:00", week2_thu), clinic.providers[0].id)


def test_following_change_input_is_checked(session, clinic):
    visits = _booked_series(session, clinic)
    one_off = book(session, clinic, "15:00", patient=1)
    base = {"actor": clinic.reception, "now": now_at("07:00")}
    with pytest.raises(InvalidInput, match="Choose a new time, length or provider"):
        recurring.plan_following_change(session, appointment_id=visits[0].id, **base)
    with pytest.raises(InvalidInput, match="between 5 and 480"):
        recurring.plan_following_change(session, appointment_id=visits[0].id, duration_minutes=600, **base)
    with pytest.raises(NotFound, match="not part of a series"):
        recurring.plan_following_change(session, appointment_id=one_off.id, time="10:00", **base)
    with pytest.raises(NotAllowed):
        recurring.change_following(session, actor=clinic.clinician, appointment_id=visits[0].id, time="10:00",
                                   now=now_at("07:00"))


def test_a_series_crossing_another_desks_bookings_at_once_is_refused_in_words(engine, session, clinic):
    """Desk 1 books next week's 09:00 and, before saving, this week's 09:30; meanwhile desk 2 books
    a weekly series at 09:15 over both weeks. On PostgreSQL the series' second visit waits for
    desk 1's first, and desk 1's second for the series' first: the server stops the one that
    waited first, the series ("deadlock detected"). Whoever loses is told in words, and no two
    visits overlap."""
    def single(s, day, hhmm: str, patient: int) -> Appointment:
        return scheduling.book_appointment(
            s, actor=clinic.reception, patient_id=clinic.patients[patient].id, provider_id=clinic.providers[0].id,
            appointment_type_id=clinic.treatment.id, starts_at=at(hhmm, day), now=now_at("07:00"))

    outcomes: list[object] = []

    def desk2() -> None:
        with Session(engine, expire_on_commit=False) as s:
            try:
                recurring.book_series(s, **_series(s, clinic, patient_id=clinic.patients[1].id, time="09:15",
                                                   weekdays=[DAY.weekday()], weeks=2))
                s.commit()
                outcomes.append("series booked")
            except Exception as exc:  # looked at below: it must be a refusal in words
                s.rollback()
                outcomes.append(exc)

    with Session(engine, expire_on_commit=False) as desk1:
        single(desk1, DAY + dt.timedelta(days=7), "09:00", 0)
        other = threading.Thread(target=desk2)
        other.start()
        until_a_booking_waits(engine)
        try:
            single(desk1, DAY, "09:30", 2)
            outcomes.append("single booked")
        except ClinicError as exc:
            outcomes.append(exc)
        desk1.commit()
        other.join()
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert refused and all(isinstance(o, ClinicError) for o in refused), outcomes
    assert all(str(o).endswith((".", "again.")) and "deadlock" not in str(o) for o in refused), refused
    session.expire_all()
    saved = sorted((a.starts_at, a.ends_at) for a in session.exec(select(Appointment)))
    assert all(b[0] >= a[1] for a, b in itertools.pairwise(saved)), saved
