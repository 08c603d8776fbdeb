"""A parent's or guardian's portal access to a dependant's records.

The desk (whoever may invite a patient to the portal) links a dependant to an existing portal
account from the dependant's profile, and revokes the link; both are audit-logged. A signed-in
account's ``Me.patient_ids`` holds its own patient and its live dependants, read afresh on every
check of the session (accounts.check_session), so a revocation ends access at once, open
sessions included. ``Me.acting_for`` is whose records the portal shows now; every portal service
reads and writes that patient only (``acting_as`` switches, refusing anyone not in
``patient_ids``). Never commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import Patient, PatientAccount
from clinic_app.models.portal_dependant import DEPENDANT_RELATIONSHIPS, PortalDependant
from clinic_app.services.frontdesk.patients import describe, matching
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.permissions import require

if TYPE_CHECKING:
    from clinic_app.services.portal.accounts import Me

# The desk's permission to invite a patient to the portal (accounts.invite) also grants a
# dependant's access.
GRANT = "patient.register"


@dataclass(frozen=True)
class Holder:
    """A portal account the desk may link a dependant to, as the desk names it."""

    account_id: int
    label: str


@dataclass(frozen=True)
class Link:
    """A live link, as the dependant's profile lists it."""

    id: int
    holder: str
    relationship: str
    granted: str


@dataclass(frozen=True)
class Person:
    """Someone whose records a signed-in account may see (the portal's "Whose records")."""

    patient_id: int
    name: str


def dependant_ids(session: Session, *, account_id: int) -> frozenset[int]:
    """The active patients ``account_id`` has a live (unrevoked) link to."""
    rows = session.exec(select(PortalDependant.patient_id).join(Patient, Patient.id == PortalDependant.patient_id)
                        .where(PortalDependant.account_id == account_id, PortalDependant.revoked_at.is_(None),
                               Patient.active)).all()
    return frozenset(rows)


def accounts_seeing(session: Session, *, patient_id: int) -> frozenset[int]:
    """The portal accounts that may see ``patient_id``'s records now: their own and their live
    links' (the live push checks it, between a revocation and the holder's next event)."""
    own = session.exec(select(PatientAccount.id).where(PatientAccount.patient_id == patient_id)).all()
    linked = session.exec(select(PortalDependant.account_id).where(PortalDependant.patient_id == patient_id,
                                                                  PortalDependant.revoked_at.is_(None))).all()
    return frozenset([*own, *linked])


def acting_as(me: Me, patient_id: int) -> Me:
    """``me`` showing ``patient_id``'s records; NotFound unless that is the account's own
    patient or a live dependant."""
    if int(patient_id or 0) not in me.patient_ids:
        raise NotFound("Those records are not available to this account.")
    return dataclasses.replace(me, acting_for=int(patient_id))


def people(session: Session, me: Me) -> list[Person]:
    """Whose records ``me`` may see: the account holder first, then the dependants by name."""
    rows = session.exec(select(Patient).where(Patient.id.in_(me.patient_ids))).all()
    own = [Person(p.id, f"{p.first_name} {p.last_name}") for p in rows if p.id == me.patient_id]
    others = sorted((Person(p.id, f"{p.first_name} {p.last_name}") for p in rows if p.id != me.patient_id),
                    key=lambda p: (p.name, p.patient_id))
    return own + others


def holders(session: Session, *, actor: Actor, text: str, patient_id: int, limit: int = 8) -> list[Holder]:
    """Portal account holders named by ``text`` (the desk's search readings), other than the
    dependant ``patient_id`` themselves; audited as a search."""
    require(actor.role, GRANT)
    text = (text or "").strip()
    if len(text) < 2 or len(text) > 80:
        return []
    for_write(session)
    found = [p for p in matching(session, text, limit=limit * 2) if p.id != patient_id]
    accounts = {a.patient_id: a for a in session.exec(select(PatientAccount).where(
        PatientAccount.patient_id.in_([p.id for p in found]), PatientAccount.active))} if found else {}
    result = [Holder(accounts[p.id].id, f"{describe(p)}, portal {accounts[p.id].email}")
              for p in found if p.id in accounts][:limit]
    audit.record(session, actor=actor, action="search", entity="patient_account",
                 detail=f"{text[:120]!r}: {len(result)} portal account holders found")
    return result


def _holder_name(session: Session, account: PatientAccount) -> str:
    patient = session.get(Patient, account.patient_id)
    return f"{patient.first_name} {patient.last_name}" if patient else account.email


def links(session: Session, *, actor: Actor, patient_id: int) -> list[Link]:
    """The live links to dependant ``patient_id``'s records, for the desk's profile."""
    require(actor.role, "patient.search")
    rows = session.exec(select(PortalDependant).where(PortalDependant.patient_id == patient_id,
                                                      PortalDependant.revoked_at.is_(None))
                        .order_by(PortalDependant.granted_at, PortalDependant.id)).all()
    result = []
    for row in rows:
        account = session.get(PatientAccount, row.account_id)
        result.append(Link(row.id, f"{_holder_name(session, account)} ({account.email})", row.relationship,
                           row.granted_at.date().isoformat()))
    return result


def link(session: Session, *, actor: Actor, patient_id: int, account_id: int, relationship: str,
         now: dt.datetime | None = None) -> PortalDependant:
    """Give portal account ``account_id`` access to dependant ``patient_id``'s records."""
    require(actor.role, GRANT)
    if relationship not in DEPENDANT_RELATIONSHIPS:
        raise InvalidInput(f"Choose the relationship: {', '.join(DEPENDANT_RELATIONSHIPS)}.")
    patient = session.get(Patient, patient_id)
    if patient is None or not patient.active:
        raise NotFound("That patient record is not in use.")
    account = session.get(PatientAccount, account_id)
    if account is None or not account.active:
        raise NotFound("That portal account is not in use; search for the parent or guardian again.")
    if account.patient_id == patient_id:
        raise InvalidInput("That is the patient's own portal account; choose the parent's or guardian's.")
    for_write(session)
    live = session.exec(select(PortalDependant).where(PortalDependant.account_id == account_id,
                                                      PortalDependant.patient_id == patient_id,
                                                      PortalDependant.revoked_at.is_(None))).first()
    if live is not None:
        raise InvalidInput(f"{_holder_name(session, account)} can already see "
                           f"{patient.first_name} {patient.last_name}'s records.")
    row = PortalDependant(account_id=account_id, patient_id=patient_id, relationship=relationship,
                          granted_by_user_id=actor.user_id, granted_at=now or utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="portal_dependant_link", entity="portal_dependant", entity_id=row.id,
                 patient_id=patient_id, detail=f"account {account_id}, {relationship}")
    return row


def revoke(session: Session, *, actor: Actor, link_id: int, patient_id: int,
           now: dt.datetime | None = None) -> PortalDependant:
    """End link ``link_id`` (to dependant ``patient_id``): from the next event on, the account's
    open sessions no longer see the dependant's records."""
    require(actor.role, GRANT)
    for_write(session)
    row = session.get(PortalDependant, link_id)
    if row is None or row.patient_id != patient_id or row.revoked_at is not None:
        raise NotFound("That portal access was already ended; reload the profile.")
    row.revoked_at, row.revoked_by_user_id = now or utcnow(), actor.user_id
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="portal_dependant_revoke", entity="portal_dependant", entity_id=row.id,
                 patient_id=patient_id, detail=f"account {row.account_id}")
    return row
