"""Opening and closing a rule's task: at most one open task per rule and subject.

The database keeps that promise too (``task.open_key`` is unique): two workers that
evaluate the same event at once cannot both open a task; the one that loses finds the other's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import String, func, update
from sqlalchemy.dialects import sqlite
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


CLOSED_BY_ITSELF = "Closed by itself: the condition no longer holds."
EVENT_IDS = 1000  # task ids per TasksChanged (a sweep that touches many sends several)
CHUNK = 5000  # ids per bulk statement (under SQLite's bound-parameter limit)


def changed(session: Session, task_ids: list[int]) -> None:
    """Tell every open inbox, once the caller commits."""
    ids = sorted(set(task_ids))
    for start in range(0, len(ids), EVENT_IDS):
        publish_on_commit(session, TasksChanged(task_ids=tuple(ids[start:start + EVENT_IDS])))


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
        task.note = (task.note + " " if task.note else "") + CLOSED_BY_ITSELF
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


def reconcile_all(session: Session, *, kind: str, wants: dict[str, Want], now: dt.datetime) -> int:
    """``reconcile`` for every subject of one rule at once (the sweep): ``wants`` holds, by
    subject ("claim_denied:12"), the task of every subject whose condition holds; every other
    open task of the rule closes by itself. In bulk: one read of the rule's open tasks and of
    the keys people completed, then closing, retitling and opening in a few statements. The
    open tasks it opens go in with ON CONFLICT DO NOTHING on ``open_key``: one a worker opened
    meanwhile stands. Returns the number of tasks opened, changed or closed."""
    session.flush()
    open_rows = session.exec(
        select(Task.id, Task.subject, Task.open_key, Task.title).where(Task.kind == kind, Task.open_key.is_not(None))
    ).all()
    close, retitle, have = [], [], set()
    for task_id, subject, open_key, title in open_rows:
        want = wants.get(subject)
        if want is None or want.key != open_key:
            close.append(task_id)
        else:
            have.add(subject)
            if title != want.title[:200]:
                retitle.append({"id": task_id, "title": want.title[:200]})
    for start in range(0, len(close), CHUNK):
        note = func.substr(func.coalesce(func.nullif(Task.note, "", type_=String) + " ", "") + CLOSED_BY_ITSELF, 1, 500)
        session.execute(
            update(Task).where(Task.id.in_(close[start:start + CHUNK]), Task.open_key.is_not(None))
            .values(status="done", open_key=None, closed_at=now, closed_by_user_id=None, note=note)
            .execution_options(synchronize_session=False)
        )
    if retitle:
        session.execute(update(Task), retitle)
    missing = {subject: want for subject, want in wants.items() if subject not in have}
    opened: list[int] = []
    if missing:
        done = set(session.exec(
            select(Task.key).where(Task.kind == kind, Task.status == "done", Task.closed_by_user_id.is_not(None))
        ).all())
        rows = [_row(kind, subject, want, now) for subject, want in sorted(missing.items()) if want.key not in done]
        if session.get_bind().dialect.name == "postgresql":
            opened = _copy_in(session, rows)
        else:
            insert = sqlite.insert(Task.__table__).on_conflict_do_nothing(index_elements=["open_key"]).returning(Task.__table__.c.id)
            for start in range(0, len(rows), CHUNK):
                opened += session.execute(insert, rows[start:start + CHUNK]).scalars().all()
    if close:  # objects of these tasks already in the session read the database again
        closed = set(close)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Task) and obj.id in closed:
                session.expire(obj)
    touched = close + [r["id"] for r in retitle] + opened
    changed(session, touched)
    return len(touched)


def _row(kind: str, subject: str, want: Want, now: dt.datetime) -> dict:
    return {
        "kind": kind, "key": want.key, "open_key": want.key, "subject": subject, "patient_id": want.patient_id,
        "title": want.title[:200], "due_on": want.due_on, "queue_role": want.queue_role,
        "assignee_user_id": want.assignee_user_id, "appointment_id": want.appointment_id, "note_id": want.note_id,
        "claim_id": want.claim_id, "case_id": want.case_id, "status": "open", "snoozed_until": None, "note": "",
        "created_by_user_id": None, "created_at": now, "closed_at": None, "closed_by_user_id": None,
    }


_COPIED = ("kind", "key", "open_key", "subject", "patient_id", "title", "due_on", "queue_role", "assignee_user_id",
           "appointment_id", "note_id", "claim_id", "case_id", "status", "note", "created_at")


def _copy_in(session: Session, rows: list[dict]) -> list[int]:
    """PostgreSQL: the new tasks COPYed into a temporary table of this transaction, then one
    ``INSERT ... SELECT ... ON CONFLICT (open_key) DO NOTHING`` (many-row VALUES statements
    cost the server far more per row). The ids of the tasks it opened."""
    if not rows:
        return []
    columns = ", ".join(f'"{c}"' for c in _COPIED)
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS task_sweep_new "
                       "(LIKE task INCLUDING DEFAULTS EXCLUDING CONSTRAINTS) ON COMMIT DROP")
        cursor.execute("TRUNCATE task_sweep_new")
        with cursor.copy(f"COPY task_sweep_new ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in _COPIED])
        cursor.execute(f"INSERT INTO task ({columns}) SELECT {columns} FROM task_sweep_new ORDER BY id "
                       "ON CONFLICT (open_key) DO NOTHING RETURNING id")
        return [r[0] for r in cursor.fetchall()]
    finally:
        cursor.close()
