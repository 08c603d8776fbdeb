"""Messages about a patient: between colleagues and between the patient and the clinic.

On SQLite and PostgreSQL: who sees which thread, read receipts and unread counts, the patient's
own threads only, clear refusals that change nothing, messages never edited or removed (the
service offers no way and the database refuses), and the live event leaving on commit only.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, func, select

from clinic_app.live import bus
from clinic_app.live.events import DESK_MESSAGES_TOPIC, MessagesChanged, messages_topic, portal_topic
from clinic_app.models import AuditLog, Message, MessageThread
from clinic_app.services.messaging import messages
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_a_colleague_gets_the_message_reads_it_and_the_sender_sees_the_receipt(session, clinic):
    patient = clinic.patients[0]
    thread = messages.start_staff_thread(session, actor=clinic.reception, patient_id=patient.id,
                                         to_user_ids=[clinic.clinician.user_id], subject="Knee brace",
                                         body="Cara asked whether to bring her brace on Tuesday.")
    session.commit()
    [row] = messages.inbox(session, actor=clinic.clinician)
    assert (row.subject, row.unread, row.patient) == ("Knee brace", 1, "Diaz, Cara (T0, born 1980-01-01)")
    assert messages.unread_count(session, actor=clinic.clinician) == 1
    assert messages.inbox(session, actor=clinic.reception)[0].unread == 0  # one's own message is read
    assert messages.inbox(session, actor=clinic.clinician2) == []  # not a member: nothing
    _, shown = messages.read_thread(session, actor=clinic.clinician, thread_id=thread.id)
    session.commit()
    assert [m.body for m in shown] == ["Cara asked whether to bring her brace on Tuesday."]
    assert messages.unread_count(session, actor=clinic.clinician) == 0
    messages.reply(session, actor=clinic.clinician, thread_id=thread.id, body="Yes, please.")
    session.commit()
    _, shown = messages.read_thread(session, actor=clinic.reception, thread_id=thread.id)
    assert shown[0].read_by == ("Clin",) and shown[0].mine  # the receipt: the clinician has read it
    assert shown[1].author == "Clin" and not shown[1].mine
    actions = session.exec(select(AuditLog.action).where(AuditLog.entity == "message_thread")).all()
    assert actions.count("message.send") == 2 and actions.count("message.read") == 2


def test_nobody_outside_a_thread_can_open_or_answer_it(session, clinic):
    thread = messages.start_staff_thread(session, actor=clinic.reception, patient_id=clinic.patients[0].id,
                                         to_user_ids=[clinic.clinician.user_id], subject="S", body="B")
    session.commit()
    for actor in (clinic.clinician2, clinic.biller):
        with pytest.raises(NotFound, match="not among yours"):
            messages.read_thread(session, actor=actor, thread_id=thread.id)
        session.rollback()
        with pytest.raises(NotFound, match="not among yours"):
            messages.reply(session, actor=actor, thread_id=thread.id, body="let me in")
        session.rollback()
    for actor in (clinic.manager, clinic.admin):  # aggregates and settings, not PHI
        with pytest.raises(NotAllowed, match="messages about patients"):
            messages.inbox(session, actor=actor)
    assert _count(session, Message) == 1


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"body": "  "}, "Write message first"),
    ({"subject": ""}, "Write subject first"),
    ({"body": "x" * (messages.MAX_BODY + 1)}, "too long"),
    ({"to_user_ids": []}, "at least one colleague"),
    ({"patient_id": 99999}, "not on record"),
])
def test_a_bad_message_is_refused_in_words_and_nothing_is_kept(session, clinic, kwargs, words):
    given = {"patient_id": clinic.patients[0].id, "to_user_ids": [clinic.clinician.user_id],
             "subject": "Subject", "body": "Body", **kwargs}
    with pytest.raises((InvalidInput, NotFound), match=words):
        messages.start_staff_thread(session, actor=clinic.reception, **given)
    session.rollback()
    assert _count(session, MessageThread) == 0 and _count(session, Message) == 0


def test_a_patients_message_reaches_the_desk_queue_and_the_answer_reaches_only_that_patient(session, clinic):
    cara, eli = clinic.patients[0], clinic.patients[1]
    thread = messages.patient_start(session, patient_id=cara.id, to="desk", subject="Parking",
                                    body="Where do I park?")
    session.commit()
    assert messages.unread_count(session, actor=clinic.reception) == 1  # every receptionist's queue
    assert messages.inbox(session, actor=clinic.clinician) == []
    messages.reply(session, actor=clinic.reception, thread_id=thread.id, body="Behind the building.")
    session.commit()
    assert messages.patient_threads(session, patient_id=cara.id)[0]["unread"] == 1
    seen = messages.patient_read_thread(session, patient_id=cara.id, thread_id=thread.id)
    session.commit()
    assert [(m["author"], m["body"]) for m in seen] == [("You", "Where do I park?"), ("Reception", "Behind the building.")]
    assert messages.patient_threads(session, patient_id=cara.id)[0]["unread"] == 0
    _, shown = messages.read_thread(session, actor=clinic.reception, thread_id=thread.id)
    assert shown[1].patient_read  # the desk sees that the patient has read the answer
    # Another patient gets nothing of it, whatever id they try.
    assert messages.patient_threads(session, patient_id=eli.id) == []
    for call in (lambda: messages.patient_read_thread(session, patient_id=eli.id, thread_id=thread.id),
                 lambda: messages.patient_reply(session, patient_id=eli.id, thread_id=thread.id, body="hi")):
        with pytest.raises(NotFound):
            call()
        session.rollback()


def test_a_patient_writes_to_their_clinician_only_where_they_choose_one(session, clinic):
    cara = clinic.patients[0]
    with pytest.raises(InvalidInput, match="Choose your clinician"):
        messages.patient_start(session, patient_id=cara.id, to="clinician", subject="S", body="B")
    session.rollback()
    messages.patient_start(session, patient_id=cara.id, to="clinician", provider_id=clinic.providers[0].id,
                           subject="Exercises", body="My knee hurts after the squats.")
    session.commit()
    assert [r.subject for r in messages.inbox(session, actor=clinic.clinician)] == ["Exercises"]
    assert messages.inbox(session, actor=clinic.clinician2) == [] and messages.inbox(session, actor=clinic.reception) == []


def test_the_event_goes_to_the_members_the_queue_and_the_patient_on_commit_only(session, clinic):
    cara = clinic.patients[0]
    with bus.held() as sent:
        thread = messages.patient_start(session, patient_id=cara.id, to="desk", subject="S", body="B")
        assert sent == []
        session.rollback()
    assert sent == [] and _count(session, MessageThread) == 0
    with bus.held() as sent:
        thread = messages.patient_start(session, patient_id=cara.id, to="desk", subject="S", body="B")
        session.commit()
    [event] = sent
    assert isinstance(event, MessagesChanged)
    assert event.topics() == [DESK_MESSAGES_TOPIC, portal_topic(cara.id)]
    with bus.held() as sent:
        messages.reply(session, actor=clinic.reception, thread_id=thread.id, body="Answer")
        session.commit()
    assert messages_topic(clinic.reception.user_id) in sent[0].topics()


def test_a_sent_message_is_never_changed_or_removed_in_the_database(engine, clinic):
    with Session(engine) as session:
        messages.patient_start(session, patient_id=clinic.patients[0].id, to="desk", subject="S", body="Original")
        session.commit()
    for statement in (update(Message).values(body="Rewritten"), delete(Message), delete(MessageThread)):
        with Session(engine) as session, pytest.raises(DBAPIError, match="message_kept"):
            session.execute(statement)
            session.flush()
    with Session(engine) as session:
        assert session.exec(select(Message.body)).all() == ["Original"]
        # The one change allowed: the time the patient saw a clinic message, set once.
        session.execute(update(Message).values(patient_read_at=func.current_timestamp()))
        session.commit()
        with pytest.raises(DBAPIError, match="message_kept"):
            session.execute(update(Message).values(patient_read_at=None))
            session.flush()
