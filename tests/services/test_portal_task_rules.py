"""The task rules the portal adds, on both databases: intake incomplete for a visit tomorrow
(desk) and a patient's message unanswered for 4 working hours (desk) appear once, and close by
themselves (forms completed or the visit cancelled; the desk answers). (The details change rule: tests/services/test_portal_profile.py.)"""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from clinic_app.models import IntakeResponse, Message, MessageThread, Task
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.portal import intake
from clinic_app.services.tasks import rules
from tests.conftest import DAY, at
from tests.services.helpers import book

EVE = at("16:00", DAY - dt.timedelta(days=1))  # the afternoon before DAY
FIELDS = [{"label": "Reason for your visit", "kind": "text", "required": True}]


def _open(session):
    return session.exec(select(Task).where(Task.kind == "intake_incomplete", Task.open_key.is_not(None))).all()


def _setup(session, clinic):
    intake.save_form(session, actor=clinic.admin, code="NEW-PATIENT", title="New patient intake",
                     visit_kinds=["Initial evaluation"], fields=FIELDS, expected_version=None)
    tomorrow = book(session, clinic, "10:00", kind=clinic.evaluation)
    later = scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[1].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.evaluation.id, starts_at=at("10:00", DAY + dt.timedelta(days=3)), now=EVE)
    treatment = book(session, clinic, "12:00", patient=2)  # a visit type with no form
    session.commit()
    return tomorrow, later, treatment


def test_intake_incomplete_for_tomorrow_appears_once_and_closes_when_completed(session, clinic):
    tomorrow, later, _ = _setup(session, clinic)
    rules.sweep(session, now=EVE, kinds=("intake_incomplete",))
    rules.sweep(session, now=EVE, kinds=("intake_incomplete",))
    session.commit()
    [task] = _open(session)
    assert (task.appointment_id, task.queue_role, task.due_on) == (tomorrow.id, "reception", DAY - dt.timedelta(days=1))
    assert task.title == "Intake not complete for tomorrow's visit (2030-03-12): New patient intake"
    # The forms completed: the task closes by itself.
    form = intake.catalogue(session)["NEW-PATIENT"]
    session.add(IntakeResponse(appointment_id=tomorrow.id, patient_id=tomorrow.patient_id, form_id=form.id,
                               form_code="NEW-PATIENT", status="completed", response="{}", completed_at=EVE))
    session.commit()
    rules.sweep(session, now=EVE, kinds=("intake_incomplete",))
    session.commit()
    assert _open(session) == []
    session.refresh(task)
    assert task.status == "done" and "Closed by itself" in task.note
    # Three days on, the later visit is tomorrow's.
    rules.sweep(session, now=EVE + dt.timedelta(days=3), kinds=("intake_incomplete",))
    session.commit()
    assert [t.appointment_id for t in _open(session)] == [later.id]


def test_intake_task_closes_when_the_visit_is_cancelled_or_its_day_comes(session, clinic):
    tomorrow, _, _ = _setup(session, clinic)
    rules.evaluate(session, "intake_incomplete", tomorrow.id, now=EVE)
    session.commit()
    assert len(_open(session)) == 1
    rules.sweep(session, now=at("08:00"), kinds=("intake_incomplete",))  # the visit's day
    session.commit()
    assert _open(session) == []
    # Cancelled the day before: closed by itself.
    rules.evaluate(session, "intake_incomplete", tomorrow.id, now=EVE)
    session.commit()
    assert len(_open(session)) == 1
    scheduling.transition(session, actor=clinic.reception, appointment_id=tomorrow.id, to_status="cancelled", now=EVE)
    rules.sweep(session, now=EVE, kinds=("intake_incomplete",))
    session.commit()
    assert _open(session) == []


# -- a patient's message unanswered for 4 working hours ----------------------------------------------
def _messages(session):
    return session.exec(select(Task).where(Task.kind == "message_unanswered", Task.open_key.is_not(None))).all()


def test_working_hours_count_only_the_clinics_working_week():
    tz = "America/New_York"
    friday_4pm = at("16:00", DAY + dt.timedelta(days=3))  # DAY is a Tuesday
    assert rules.working_hours_between(at("09:00"), at("12:30"), tz) == 3.5
    assert rules.working_hours_between(at("17:00"), at("09:00", DAY + dt.timedelta(days=1)), tz) == 2
    assert rules.working_hours_between(friday_4pm, at("10:00", DAY + dt.timedelta(days=6)), tz) == 4  # over the weekend


def test_an_unanswered_patient_message_to_the_desk_appears_once_and_closes_when_answered(session, clinic):
    patient = clinic.patients[0]
    thread = MessageThread(kind="patient", patient_id=patient.id, subject="Parking", to_queue="desk",
                           started_at=at("09:00"), last_at=at("09:00"))
    session.add(thread)
    session.flush()
    session.add(Message(thread_id=thread.id, by_patient=True, body="Where do I park?", sent_at=at("09:00")))
    session.commit()
    rules.sweep(session, now=at("12:59"), kinds=("message_unanswered",))
    session.commit()
    assert _messages(session) == []  # under 4 working hours
    rules.sweep(session, now=at("13:00"), kinds=("message_unanswered",))
    rules.sweep(session, now=at("14:00"), kinds=("message_unanswered",))
    session.commit()
    [task] = _messages(session)
    assert (task.queue_role, task.patient_id, task.title) == ("reception", patient.id, "Answer the patient's message: Parking")
    session.add(Message(thread_id=thread.id, author_user_id=clinic.reception.user_id, body="Behind the building.",
                        sent_at=at("14:05")))
    session.commit()
    rules.sweep(session, now=at("14:10"), kinds=("message_unanswered",))
    session.commit()
    assert _messages(session) == []
    session.refresh(task)
    assert task.status == "done"


def test_the_desks_answer_closes_the_unanswered_message_task_at_once_not_at_the_next_sweep(engine, session, clinic,
                                                                                           monkeypatch):
    """The task worker hears the thread's MessagesChanged and re-evaluates the rule for that
    thread alone: the answer closes the task as it commits."""
    from clinic_app import db, tasks_worker
    from clinic_app.services.messaging import messages

    monkeypatch.setattr(tasks_worker, "session_scope", lambda: db.session_scope(engine))
    thread = messages.patient_start(session, patient_id=clinic.patients[0].id, to="desk", subject="Parking",
                                    body="Where do I park?")
    session.commit()
    rules.sweep(session, kinds=("message_unanswered",), now=thread.started_at + dt.timedelta(days=3))
    session.commit()
    assert len(_messages(session)) == 1
    messages.reply(session, actor=clinic.reception, thread_id=thread.id, body="Behind the building.")
    session.commit()
    tasks_worker.on_message(thread.id)  # what the worker does on the reply's event
    session.expire_all()
    assert _messages(session) == []
