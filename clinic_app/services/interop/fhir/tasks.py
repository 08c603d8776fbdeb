"""The task inbox as FHIR R4 Task (read and search by owner, status, patient; fhir.py's KINDS
table serves it). A Task's owner is a role's queue or a member of staff, named by identifier:
``urn:clinic:role|reception`` or ``urn:clinic:user|12`` (staff are not all Practitioners).
The ``owner`` search parameter is a token over those identifiers (a value without a system
matches either). Status: open -> ready, snoozed -> on-hold, done -> completed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_
from sqlmodel import select

from clinic_app.models import Task, User
from clinic_app.services.platform.actor import Actor
from clinic_app.services.tasks.rules import KIND_LABELS

ROLE_SYSTEM = "urn:clinic:role"
USER_SYSTEM = "urn:clinic:user"
KIND_SYSTEM = "urn:clinic:task-kind"
STATUS = {"open": "ready", "snoozed": "on-hold", "done": "completed"}


def _instant(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if moment else None


def task_query(actor: Actor):
    """The tasks this person works: their role's queue, given to them, or made by them."""
    return select(Task).where(or_(Task.queue_role == actor.role, Task.assignee_user_id == actor.user_id,
                                  Task.created_by_user_id == actor.user_id))


def _owner(task: Task, names: dict[int, str]) -> dict:
    if task.assignee_user_id is not None:
        return {"identifier": {"system": USER_SYSTEM, "value": str(task.assignee_user_id)},
                "display": names.get(task.assignee_user_id, "")}
    return {"identifier": {"system": ROLE_SYSTEM, "value": task.queue_role or ""}, "display": f"{task.queue_role} queue"}


def task_resource(session, task: Task) -> dict:
    names = {}
    if task.assignee_user_id is not None:
        user = session.get(User, task.assignee_user_id)
        names = {user.id: user.full_name} if user else {}
    resource = {
        "resourceType": "Task", "id": str(task.id),
        "meta": {"lastUpdated": _instant(task.closed_at or task.created_at)},
        "status": STATUS[task.status], "intent": "order",
        "code": {"coding": [{"system": KIND_SYSTEM, "code": task.kind}], "text": KIND_LABELS.get(task.kind, task.kind)},
        "description": task.title,
        "for": {"reference": f"Patient/{task.patient_id}"},
        "authoredOn": _instant(task.created_at),
        "lastModified": _instant(task.closed_at or task.created_at),
        "owner": _owner(task, names),
        "restriction": {"period": {"end": task.due_on.isoformat()}},
    }
    if task.appointment_id is not None:
        resource["focus"] = {"reference": f"Appointment/{task.appointment_id}"}
    if task.queue_role and task.assignee_user_id is not None:
        resource["performerType"] = [{"coding": [{"system": ROLE_SYSTEM, "code": task.queue_role}]}]
    if task.status == "snoozed" and task.snoozed_until:
        resource["businessStatus"] = {"text": f"Snoozed until {task.snoozed_until.isoformat()}"}
    if task.note:
        resource["note"] = [{"text": task.note}]
    return resource


def owner_clause(system: str | None, code: str):
    """``owner`` search: a role's queue or a person, by the identifier's system and value."""
    by_role = Task.queue_role == code
    by_user = Task.assignee_user_id == (int(code) if code.isdigit() else -1)
    if system == ROLE_SYSTEM:
        return by_role
    if system == USER_SYSTEM:
        return by_user
    if system is None:
        return or_(by_role, by_user)
    return Task.id == -1


def status_clause(code: str):
    wanted = [ours for ours, theirs in STATUS.items() if theirs == code]
    return Task.status.in_(wanted) if wanted else Task.id == -1
