"""Opening and closing a rule's task: at most one open task per rule and subject.

The database keeps that promise too (``task.open_key`` is unique): two workers that
evaluate the same event at once cannot both open a task; the one that loses finds the other's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.live import publish_on_commit
from clinic_app.live.events import TasksChanged
from clinic_app.models import Task


@dataclass(frozen=True)
class Want:
    """What a rule's condition says the open task should be (None: no task)."""

    key: str  # the rule and the subject (and the instance of the condition), e.g. "claim_denied:12:40"
    patient_id: int
    title: str
    due_on: dt.date
    queue_role: str | None = None
    assignee_user_id: int | None = None
    appointment_id: int | None = None
    note_id: int | None = None
    claim_id: int | None = None
    case_id: int | None = None


def changed(session: Session, task_ids: list[int]) -> None:
    """Tell every open inbox, once the caller commits."""
    if task_ids:
        publish_on_commit(session, TasksChanged(task_ids=tuple(sorted(set(task_ids)))))


def reconcile(session: Session, *, kind: str, subject: str, want: Want | None, now: dt.datetime) -> int | None:
    """Make the open tasks of one rule's ``subject`` ("claim_denied:12") match ``want``: open it
    if it is wanted and missing, retitle it if it changed, close by itself any other open task
    of the subject. Returns the id of a task opened, changed or closed."""
    touched: list[int] = []
    open_ones = session.exec(select(Task).where(Task.subject == subject, Task.open_key.is_not(None))).all()
    keep = None
    for task in open_ones:
        if want is not None and task.open_key == want.key:
            keep = task
            continue
        task.status, task.open_key, task.closed_at, task.closed_by_user_id = "done", None, now, None
        task.note = (task.note + " " if task.note else "") + "Closed by itself: the condition no longer holds."
        task.note = task.note[:500]
        session.add(task)
        touched.append(task.id)
    if want is not None and keep is not None:
        if keep.title != want.title:
            keep.title = want.title
            session.add(keep)
            touched.append(keep.id)
    elif want is not None and not _done_by_person(session, want.key):
        task = _open(session, kind, subject, want, now)
        if task is not None:
            touched.append(task.id)
    if touched:
        session.flush()
        changed(session, touched)
    return touched[0] if touched else None


def _done_by_person(session: Session, key: str) -> bool:
    """Someone completed this very task (same rule, subject and instance of the condition):
    the rule does not open it again while the condition lasts."""
    return session.exec(
        select(Task.id).where(Task.key == key, Task.status == "done", Task.closed_by_user_id.is_not(None)).limit(1)
    ).first() is not None


def _open(session: Session, kind: str, subject: str, want: Want, now: dt.datetime) -> Task | None:
    task = Task(
        kind=kind, key=want.key, open_key=want.key, subject=subject, patient_id=want.patient_id, title=want.title[:200],
        due_on=want.due_on, queue_role=want.queue_role, assignee_user_id=want.assignee_user_id,
        appointment_id=want.appointment_id, note_id=want.note_id, claim_id=want.claim_id, case_id=want.case_id,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(task)
            session.flush()
    except IntegrityError:  # another worker opened it a moment ago: that one stands
        return None
    return task
