"""Audit trail: who viewed or changed which record, when and from where."""

from __future__ import annotations

from sqlmodel import Session

from clinic_app.models import AuditLog
from clinic_app.services.actor import Actor


def record(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: int | None = None,
    patient_id: int | None = None,
    detail: str = "",
    source: str = "",
) -> None:
    """Add an audit row to the caller's transaction (it commits with the change it records)."""
    session.add(
        AuditLog(
            user_id=actor.user_id if actor else None,
            role=actor.role if actor else "",
            action=action,
            entity=entity,
            entity_id=entity_id,
            patient_id=patient_id,
            source=(source or (actor.source if actor else ""))[:80],
            detail=detail[:200],
        )
    )
