"""Field history of edited records (patients, consents, coverages, episodes of care)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from clinic_app.models import RecordChange
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def record(
    session: Session, *, actor: Actor, entity: str, entity_id: int, patient_id: int, before: dict, after: dict,
    now: dt.datetime,
) -> list[str]:
    """Add a history row for every field whose value differs; returns the changed fields.

    Joins the caller's transaction (it commits with the change it describes).
    """
    changed = []
    for field, new in after.items():
        old_text, new_text = _text(before.get(field)), _text(new)
        if old_text == new_text:
            continue
        changed.append(field)
        session.add(RecordChange(
            entity=entity, entity_id=entity_id, patient_id=patient_id, field=field[:40], old_value=old_text[:200],
            new_value=new_text[:200], changed_by=actor.user_id, changed_at=now,
        ))
    return changed


def apply_edit(
    session: Session, *, actor: Actor, row, entity: str, before: dict, after: dict, now: dt.datetime,
    on_changed=None,
) -> list[str]:
    """Edit ``row`` (a record with ``id`` and ``patient_id``) to ``after``: the history rows, the
    new values, one audit row, one commit. Refuses an edit that changes nothing (nothing saved).
    ``on_changed(changed_fields)`` runs before the values are set (e.g. to clear what they void)."""
    changed = record(session, actor=actor, entity=entity, entity_id=row.id, patient_id=row.patient_id,
                     before=before, after=after, now=now)
    if not changed:
        raise InvalidInput("Nothing changed: edit a field, then save.")
    if on_changed is not None:
        on_changed(changed)
    for name, value in after.items():
        setattr(row, name, value)
    session.add(row)
    audit.record(session, actor=actor, action="update", entity=entity, entity_id=row.id,
                 patient_id=row.patient_id, detail=", ".join(changed)[:200])
    session.flush()
    return changed


def history(session: Session, *, entity: str, entity_id: int) -> list[RecordChange]:
    """A record's changes, newest first."""
    return list(session.exec(
        select(RecordChange).where(RecordChange.entity == entity, RecordChange.entity_id == entity_id)
        .order_by(RecordChange.id.desc())
    ))
