"""A person's task inbox: the tasks of their role's queue and their own, by due date; assign,
snooze, complete, and hand-made tasks. Every read and change is audited (tasks name patients).
Nothing here commits: the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import Session, func, select

from clinic_app import routes
from clinic_app.db import for_write, utcnow
from clinic_app.models import ROLES, Patient, Task, User
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound
from clinic_app.services.platform.permissions import allowed, require
from clinic_app.services.tasks.rules import HAND_MADE, KIND_LABELS, today
from clinic_app.services.tasks.store import changed

PAGE = 50
FILTERS = ("all", "mine", "queue", "overdue")
TASK_ROLES = [role for role in ROLES if allowed(role, "task.view")]


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows: ``show`` one of FILTERS; optionally one patient or one kind."""

    show: str = "all"
    patient_id: int | None = None
    kind: str = ""


def _visible(actor: Actor):
    """The tasks a person works: their role's queue and those assigned to them (or made by them)."""
    return or_(Task.queue_role == actor.role, Task.assignee_user_id == actor.user_id, Task.created_by_user_id == actor.user_id)


def _active():
    return Task.status == "open"


def open_count(session: Session, *, actor: Actor) -> int:
    """The badge: open tasks in the person's queue or assigned to them."""
    require(actor.role, "task.view")
    return session.exec(select(func.count(Task.id)).where(_active(), or_(Task.queue_role == actor.role,
                                                                          Task.assignee_user_id == actor.user_id))).one()


def counts_by_owner(session: Session) -> list[tuple[str | None, int | None, int]]:
    """Open tasks per (queue role, assignee): every badge's count is a sum of a few of these
    (the live push computes it once per change for every open badge)."""
    return [tuple(row) for row in session.exec(
        select(Task.queue_role, Task.assignee_user_id, func.count(Task.id)).where(_active())
        .group_by(Task.queue_role, Task.assignee_user_id)
    ).all()]


def count_for(counts: list[tuple[str | None, int | None, int]], *, role: str, user_id: int) -> int:
    return sum(n for queue, assignee, n in counts if queue == role or assignee == user_id)


def _where(actor: Actor, what: InboxFilter, day: dt.date) -> list:
    if what.show not in FILTERS:
        raise InvalidInput("Choose what to show: all, mine, my role's queue or overdue.")
    clauses = [_active(), _visible(actor)]
    if what.show == "mine":
        clauses.append(Task.assignee_user_id == actor.user_id)
    elif what.show == "queue":
        clauses.append(Task.queue_role == actor.role)
    elif what.show == "overdue":
        clauses.append(Task.due_on < day)
    if what.patient_id is not None:
        clauses.append(Task.patient_id == what.patient_id)
    if what.kind:
        clauses.append(Task.kind == what.kind)
    return clauses


def rows(session: Session, tasks: list[Task], *, day: dt.date) -> list[dict]:
    """Tasks as the inbox shows them (plain values; patient and assignee names looked up once)."""
    patients = {p.id: p for p in session.exec(select(Patient).where(Patient.id.in_({t.patient_id for t in tasks})))} if tasks else {}
    users = {u.id: u.full_name for u in session.exec(
        select(User).where(User.id.in_({t.assignee_user_id for t in tasks if t.assignee_user_id})))} if tasks else {}
    out = []
    for t in tasks:
        p = patients.get(t.patient_id)
        out.append({
            "id": t.id, "kind": t.kind, "kind_label": KIND_LABELS.get(t.kind, t.kind), "title": t.title,
            "patient_id": t.patient_id, "patient": f"{p.last_name}, {p.first_name}" if p else "",
            "due_on": t.due_on.isoformat(), "overdue": t.due_on < day, "status": t.status,
            "queue_role": t.queue_role or "", "assignee_user_id": t.assignee_user_id or 0,
            "assignee": users.get(t.assignee_user_id, ""), "created_by_user_id": t.created_by_user_id or 0,
            "snoozed_until": t.snoozed_until.isoformat() if t.snoozed_until else "",
            "link": subject_link(t), "link_label": subject_label(t),
        })
    return out


def inbox(session: Session, *, actor: Actor, what: InboxFilter = InboxFilter(), limit: int = PAGE,
          now: dt.datetime | None = None) -> dict:
    """The first ``limit`` tasks by due date for this person and filter, and how many there are."""
    require(actor.role, "task.view")
    day = today(session, now)
    clauses = _where(actor, what, day)
    tasks = list(session.exec(select(Task).where(*clauses).order_by(Task.due_on, Task.id).limit(limit)).all())
    total = session.exec(select(func.count(Task.id)).where(*clauses)).one()
    found = rows(session, tasks, day=day)
    for_write(session)
    audit.record(session, actor=actor, action="view", entity="task_inbox", entity_id=actor.user_id,
                 patient_id=what.patient_id, detail=f"{what.show} {what.kind} {len(found)} of {total}".strip())
    return {"rows": found, "total": total, "count": open_count(session, actor=actor), "today": day.isoformat()}


def matches(row: dict, *, role: str, user_id: int, what: InboxFilter, day: str) -> bool:
    """Whether a pushed task row belongs in an inbox showing ``what`` (the same test as ``_where``)."""
    if row["status"] != "open":
        return False
    if not (row["queue_role"] == role or row["assignee_user_id"] == user_id or row["created_by_user_id"] == user_id):
        return False
    if what.show == "mine" and row["assignee_user_id"] != user_id:
        return False
    if what.show == "queue" and row["queue_role"] != role:
        return False
    if what.show == "overdue" and not row["due_on"] < day:
        return False
    if what.patient_id is not None and row["patient_id"] != what.patient_id:
        return False
    return not (what.kind and row["kind"] != what.kind)


def changed_rows(session: Session, task_ids: list[int]) -> list[dict]:
    """The rows of tasks that changed (for the live push: built once per change)."""
    tasks = list(session.exec(select(Task).where(Task.id.in_(task_ids))).all()) if task_ids else []
    return rows(session, tasks, day=today(session))


# Tasks worked in one visit's note, by the visit's own clinician: the link opens the chart at it
# (the unsigned note's visit; the next visit, where the progress note or the new plan is written).
VISIT_NOTE_KINDS = ("unsigned_note", "progress_note", "plan_of_care")


def chart_visit(appointment_id: int) -> str:
    """The chart opened at one visit's note (state/chart.py reads ``visit``)."""
    return f"{routes.CHART}?visit={appointment_id}"


def subject_link(task: Task) -> str:
    """Where the task's subject is worked, by the routes that exist: claims on the billing page,
    notes and progress notes in the chart, everything else on the patient's profile."""
    if task.claim_id is not None or task.kind == "balance_90":
        return routes.BILLING
    if task.kind in VISIT_NOTE_KINDS and task.appointment_id is not None:
        return chart_visit(task.appointment_id)
    if task.kind in ("unsigned_note", "cosign", "progress_note", "plan_of_care"):
        return routes.CHART
    return routes.patient_profile(task.patient_id)


def subject_label(task: Task) -> str:
    if task.claim_id is not None:
        return "Open the claim in billing"
    if task.kind == "balance_90":
        return "Open the account in billing"
    if task.kind in VISIT_NOTE_KINDS and task.appointment_id is not None:
        return "Open the note in the chart"
    if task.kind in ("unsigned_note", "cosign", "progress_note", "plan_of_care"):
        return "Open the chart"
    return "Open the patient's profile"


# -- working a task ----------------------------------------------------------------------------
def _task(session: Session, actor: Actor, task_id: int) -> Task:
    require(actor.role, "task.work")
    for_write(session)
    task = session.get(Task, task_id, with_for_update=True)
    if task is None:
        raise NotFound("That task no longer exists.")
    if not (task.queue_role == actor.role or task.assignee_user_id == actor.user_id
            or task.created_by_user_id == actor.user_id):
        raise NotAllowed("This task is not in your inbox or your role's queue.")
    if task.status == "done":
        raise InvalidInput("This task is already done (a colleague or its rule closed it).")
    return task


def assign(session: Session, *, actor: Actor, task_id: int, user_id: int | None) -> Task:
    """Give the task to a person (None: back to its queue only)."""
    task = _task(session, actor, task_id)
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.active or user.role not in TASK_ROLES:
            raise InvalidInput("Choose an active member of staff who works tasks.")
    elif task.queue_role is None:
        raise InvalidInput("This task has no queue to go back to: choose a person.")
    task.assignee_user_id = user_id
    return _saved(session, actor, task, "assign", f"to user {user_id}" if user_id else "to its queue")


def snooze(session: Session, *, actor: Actor, task_id: int, until: dt.date, now: dt.datetime | None = None) -> Task:
    """Hide the task until a later day (it comes back that morning)."""
    task = _task(session, actor, task_id)
    if until <= today(session, now):
        raise InvalidInput("Snooze to a day after today.")
    if until > today(session, now) + dt.timedelta(days=365):
        raise InvalidInput("Snooze for a year at most.")
    task.status, task.snoozed_until = "snoozed", until
    return _saved(session, actor, task, "snooze", until.isoformat())


def complete(session: Session, *, actor: Actor, task_id: int, note: str = "", now: dt.datetime | None = None) -> Task:
    """Mark the task done, with what was done. A rule does not open it again while the same
    instance of its condition lasts."""
    task = _task(session, actor, task_id)
    task.status, task.open_key, task.snoozed_until = "done", None, None
    task.closed_at, task.closed_by_user_id = now or utcnow(), actor.user_id
    task.note = (note or "").strip()[:500]
    return _saved(session, actor, task, "complete", task.note[:100])


def create(session: Session, *, actor: Actor, patient_id: int, title: str, due_on: dt.date,
           queue_role: str | None = None, assignee_user_id: int | None = None, note: str = "",
           now: dt.datetime | None = None) -> Task:
    """A hand-made task about a patient, for a role's queue or a person."""
    require(actor.role, "task.work")
    for_write(session)
    title = (title or "").strip()
    if not title:
        raise InvalidInput("Say what needs doing.")
    if len(title) > 200:
        raise InvalidInput("Keep the task to 200 characters; put details in the note.")
    if session.get(Patient, patient_id) is None:
        raise InvalidInput("Choose a patient.")
    if queue_role is None and assignee_user_id is None:
        raise InvalidInput("Choose a person or a role's queue for the task.")
    if queue_role is not None and queue_role not in TASK_ROLES:
        raise InvalidInput("Choose the queue of a role that works tasks.")
    if assignee_user_id is not None:
        user = session.get(User, assignee_user_id)
        if user is None or not user.active or user.role not in TASK_ROLES:
            raise InvalidInput("Choose an active member of staff who works tasks.")
    if due_on < today(session, now) - dt.timedelta(days=1):
        raise InvalidInput("Choose a due date from today on.")
    task = Task(kind=HAND_MADE, patient_id=patient_id, title=title, due_on=due_on, queue_role=queue_role,
                assignee_user_id=assignee_user_id, note=(note or "").strip()[:500], created_by_user_id=actor.user_id,
                created_at=now or utcnow())
    session.add(task)
    session.flush()
    audit.record(session, actor=actor, action="create", entity="task", entity_id=task.id, patient_id=patient_id)
    changed(session, [task.id])
    return task


def _saved(session: Session, actor: Actor, task: Task, action: str, detail: str) -> Task:
    session.add(task)
    session.flush()
    audit.record(session, actor=actor, action=action, entity="task", entity_id=task.id, patient_id=task.patient_id,
                 detail=detail)
    changed(session, [task.id])
    return task


def people(session: Session, *, actor: Actor) -> list[tuple[int, str, str]]:
    """Staff a task can be given to: (user id, name, role)."""
    require(actor.role, "task.view")
    return [(u.id, u.full_name, u.role) for u in session.exec(
        select(User).where(User.active, User.role.in_(TASK_ROLES)).order_by(User.full_name))]
