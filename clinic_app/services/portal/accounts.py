"""Patients' portal accounts: the desk's invitation, setting a password from it, sign-in with
the staff's password policy, lock-out and argon2, and portal sessions.

- An invitation is a one-time link (``/portal/welcome?token=...``): 32 random bytes, stored only
  as their SHA-256, single use, valid INVITE_HOURS. The e-mail goes through the SMTP sender the
  reminders use (services/frontdesk/reminders.py), after the caller's commit (``send``).
- A portal session is a ``portal_session`` cookie of its own (HttpOnly, set by api/portal.py):
  its table, its checks. Staff sessions (``clinic_session``, services/platform/auth.py) and
  portal sessions never open each other's doors: the staff gate finds no staff session in a
  portal cookie, and the portal finds no patient in a staff one.
- Nothing here commits, except that the caller commits a failed sign-in's count before it
  raises the refusal (api/portal.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.models import Patient, PatientAccount, PortalSession, PortalToken
from clinic_app.services.platform import audit, auth, limits
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import hhmm
from clinic_app.services.platform.errors import BadCredentials, InvalidInput, NotFound
from clinic_app.services.platform.permissions import PORTAL, require
from clinic_app.services.portal import dependants

if TYPE_CHECKING:  # a type only: the reminders' delivery makes check-in links (portal.checkin imports this module)
    from clinic_app.services.frontdesk.reminders import EmailSender

INVITE_HOURS = 72
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,120}\.[A-Za-z]{2,}$")
WELCOME_PATH = "/portal/welcome"
# Per minute (services/platform/limits.py's windows): sign-ins per client and per e-mail,
# one-time link uses per client, invitations per patient.
SIGN_INS_PER_CLIENT = settings.SIGN_INS_PER_CLIENT
SIGN_INS_PER_EMAIL = settings.SIGN_INS_PER_USERNAME
TOKEN_USES_PER_CLIENT = 10
INVITES_PER_PATIENT = 3
CHECKIN_TRIES_PER_LINK = 5


@dataclass(frozen=True)
class Me:
    """The signed-in patient, as the portal's services see them.

    ``acting_for`` is whose records the portal shows (the account's own patient unless a
    dependant is chosen: services/portal/dependants.py); it is always one of ``patient_ids``."""

    account_id: int
    patient_id: int
    session_id: int = 0
    name: str = ""
    dependant_ids: frozenset[int] = frozenset()
    acting_for: int = 0

    def __post_init__(self) -> None:
        if not self.acting_for:
            object.__setattr__(self, "acting_for", self.patient_id)
        elif self.acting_for not in self.patient_ids:
            raise NotFound("Those records are not available to this account.")

    @property
    def patient_ids(self) -> frozenset[int]:
        """Whose records this account may see: the patient's own and their live dependants'."""
        return frozenset({self.patient_id}) | self.dependant_ids


def portal_actor(me: Me, source: str = "portal") -> Actor:
    """The actor the scheduling services see for a patient's own online action (audit role "portal")."""
    return Actor(user_id=None, role=PORTAL, name=f"Patient portal (account {me.account_id})", source=source)  # type: ignore[arg-type]


def token_hash(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh random token and the hash that is stored of it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


# -- rate limits ------------------------------------------------------------------------
def check_client_and_email(kind: str, *, client: str, email: str, per_client: int, per_email: int, what: str,
                           limiter_: limits.RateLimiter | None = None, now: float | None = None) -> None:
    """Count one ``kind`` of try from ``client`` for ``email``; TooManyAttempts ("Too many
    {what}; wait...") past either limit. Keys: ``{kind}-client:`` and ``{kind}-email:``."""
    use = limiter_ or limits.limiter()
    by_client = use.hit(f"{kind}-client:{client}", now)
    by_email = use.hit(f"{kind}-email:{(email or '').strip().lower()[:120]}", now)
    if by_client > per_client or by_email > per_email:
        raise limits.TooManyAttempts(f"Too many {what}; wait {use.seconds_left(now)} seconds and try again.")


def check_sign_in_rate(*, client: str, email: str, limiter_: limits.RateLimiter | None = None,
                       now: float | None = None) -> None:
    """Count a portal sign-in; TooManyAttempts past either limit (before any hashing)."""
    check_client_and_email("portal", client=client, email=email, per_client=SIGN_INS_PER_CLIENT,
                           per_email=SIGN_INS_PER_EMAIL, what="sign-in attempts", limiter_=limiter_, now=now)


def check_token_rate(*, client: str, limiter_: limits.RateLimiter | None = None, now: float | None = None) -> None:
    """Count a use of a one-time link (welcome, check-in) from ``client``."""
    use = limiter_ or limits.limiter()
    if use.hit(f"portal-token:{client}", now) > TOKEN_USES_PER_CLIENT:
        raise limits.TooManyAttempts(f"Too many tries; wait {use.seconds_left(now)} seconds and try again.")


def check_checkin_rate(*, token: str, limiter_: limits.RateLimiter | None = None, now: float | None = None) -> None:
    """Count a date-of-birth try on one check-in link: CHECKIN_TRIES_PER_LINK a window, from any client."""
    use = limiter_ or limits.limiter()
    if use.hit(f"portal-checkin:{token_hash(token)}", now) > CHECKIN_TRIES_PER_LINK:
        raise limits.TooManyAttempts(f"Too many tries on this link; wait {use.seconds_left(now)} seconds, "
                                     "or check in at the desk.")


def check_invite_rate(*, patient_id: int, limiter_: limits.RateLimiter | None = None, now: float | None = None) -> None:
    use = limiter_ or limits.limiter()
    if use.hit(f"portal-invite:{patient_id}", now) > INVITES_PER_PATIENT:
        raise limits.TooManyAttempts(f"Invitations were just sent to this patient; wait {use.seconds_left(now)} seconds.")


# -- invitations --------------------------------------------------------------------------
@dataclass(frozen=True)
class Invitation:
    """An invitation to send once the caller has committed: to whom, and the link's token."""

    to: str
    patient_name: str
    token: str
    expires_at: dt.datetime

    def link(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}{WELCOME_PATH}?token={self.token}"


def account_of(session: Session, patient_id: int) -> PatientAccount | None:
    return session.exec(select(PatientAccount).where(PatientAccount.patient_id == patient_id)).first()


def invite(session: Session, *, actor: Actor, patient_id: int, email: str = "",
           now: dt.datetime | None = None) -> Invitation:
    """The desk invites a patient to the portal: their account (created, or its e-mail
    updated) and a new one-time link, valid INVITE_HOURS. Earlier unused invitations end."""
    require(actor.role, "patient.register")
    now = now or utcnow()
    patient = session.get(Patient, patient_id)
    if patient is None or not patient.active:
        raise NotFound("That patient record is not in use.")
    email = (email or patient.email or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise InvalidInput("Record the patient's e-mail address first (name@example.com).")
    for_write(session)
    taken = session.exec(select(PatientAccount).where(PatientAccount.email == email,
                                                      PatientAccount.patient_id != patient_id)).first()
    if taken is not None:
        raise InvalidInput(f"{email} already signs in to the portal for another patient; use another address.")
    account = account_of(session, patient_id)
    if account is None:
        account = PatientAccount(patient_id=patient_id, email=email, created_at=now)
    else:
        account.email = email
    account.active = True
    session.add(account)
    for old in session.exec(select(PortalToken).where(PortalToken.patient_id == patient_id, PortalToken.kind == "invite",
                                                      PortalToken.used_at.is_(None))):
        old.used_at = now
        session.add(old)
    token, hashed = new_token()
    expires = now + dt.timedelta(hours=INVITE_HOURS)
    session.add(PortalToken(token_hash=hashed, kind="invite", patient_id=patient_id, created_at=now, expires_at=expires))
    session.flush()
    audit.record(session, actor=actor, action="portal_invite", entity="patient_account", entity_id=account.id,
                 patient_id=patient_id)
    return Invitation(to=email, patient_name=f"{patient.first_name} {patient.last_name}", token=token,
                      expires_at=expires)


def send(invitation: Invitation, *, sender: EmailSender, base_url: str, clinic_name: str = "the clinic") -> None:
    """E-mail the invitation (after the commit that created it)."""
    body = (
        f"Hello {invitation.patient_name},\n\n"
        f"{clinic_name} invites you to its patient portal, where you can book, move or cancel your visits "
        "and check in on the day.\n\n"
        f"Set your password here (the link works once, for {INVITE_HOURS} hours):\n"
        f"{invitation.link(base_url)}\n\n"
        "If you did not expect this message, ignore it.\n"
    )
    sender.send(to=invitation.to, subject="Your patient portal invitation", body=body)


def _live_token(session: Session, token: str, kind: str, now: dt.datetime) -> PortalToken:
    if not token or len(token) > 100:
        raise InvalidInput("This link is not valid; ask the clinic for a new one.")
    row = session.exec(select(PortalToken).where(PortalToken.token_hash == token_hash(token),
                                                 PortalToken.kind == kind)).first()
    if row is None:
        raise InvalidInput("This link is not valid; ask the clinic for a new one.")
    if row.used_at is not None:
        raise InvalidInput("This link was already used; sign in, or ask the clinic for a new one.")
    if row.expires_at <= now:
        raise InvalidInput("This link has expired; ask the clinic for a new one.")
    return row


def check_invitation(session: Session, *, token: str, now: dt.datetime | None = None) -> str:
    """The e-mail an unused, unexpired invitation is for (InvalidInput otherwise); changes nothing."""
    row = _live_token(session, token, "invite", now or utcnow())
    account = account_of(session, row.patient_id)
    if account is None:
        raise InvalidInput("This link is not valid; ask the clinic for a new one.")
    return account.email


def accept_invitation(session: Session, *, token: str, password: str, now: dt.datetime | None = None) -> PatientAccount:
    """Set the account's password from an invitation link; the link is used up."""
    now = now or utcnow()
    for_write(session)
    row = _live_token(session, token, "invite", now)
    account = account_of(session, row.patient_id)
    if account is None or not account.active:
        raise InvalidInput("This link is not valid; ask the clinic for a new one.")
    auth.check_password_policy(password, username=account.email.split("@")[0])
    row.used_at = now
    account.password_hash = auth.hash_password(password)
    account.password_set_at = now
    account.failed_sign_ins = 0
    account.locked_until = None
    session.add_all([row, account])
    session.flush()
    audit.record(session, actor=None, action="portal_password_set", entity="patient_account", entity_id=account.id,
                 patient_id=account.patient_id, source="portal")
    return account


# -- sign-in and sessions -------------------------------------------------------------------
class WrongPassword(BadCredentials):
    """A portal sign-in failed; says nothing of which part was wrong."""

    def __init__(self) -> None:
        Exception.__init__(self, "E-mail or password is incorrect.")


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    """A hash to check against when the e-mail is unknown, so timing does not tell which exist."""
    if not _DUMMY:
        _DUMMY.append(auth.hash_password("not-a-real-password"))
    return _DUMMY[0]


def authenticate(session: Session, *, email: str, password: str, source: str = "",
                 now: dt.datetime | None = None) -> PatientAccount:
    """The active account with these credentials; BadCredentials (or AccountLocked) otherwise.

    A refusal has counted the failure in the session: the caller commits before raising it on."""
    now = now or utcnow()
    email = (email or "").strip().lower()
    if not email or not password or len(password) > auth.MAX_PASSWORD or len(email) > 120:
        raise WrongPassword()
    account = session.exec(select(PatientAccount).where(PatientAccount.email == email)).first()
    # An account left on a record merged into another (the survivor had its own) no longer signs in.
    usable = (account is not None and account.active and bool(account.password_hash)
              and _record_active(session, account.patient_id))
    ok = auth.verify_password(password, account.password_hash if usable else _dummy_hash())
    for_write(session)
    if account is not None:
        session.refresh(account)
    locked = account is not None and account.locked_until is not None and account.locked_until > now
    if not usable or not ok or locked:
        audit.record(session, actor=None, action="portal_sign_in_failed", entity="patient_account", source=source)
        if usable and not ok and not locked:
            account.failed_sign_ins += 1
            if account.failed_sign_ins >= settings.MAX_FAILED_SIGN_INS:
                account.locked_until = now + dt.timedelta(minutes=settings.LOCK_MINUTES)
                account.failed_sign_ins = 0
                audit.record(session, actor=None, action="portal_account_locked", entity="patient_account",
                             entity_id=account.id, patient_id=account.patient_id, source=source)
            session.add(account)
        if locked and ok:
            raise auth.AccountLocked(
                f"This account is locked after repeated failed sign-ins until {hhmm(account.locked_until, 'UTC')} UTC; "
                "wait, or call the clinic."
            )
        raise WrongPassword()
    account.failed_sign_ins = 0
    account.locked_until = None
    session.add(account)
    audit.record(session, actor=None, action="portal_sign_in", entity="patient_account", entity_id=account.id,
                 patient_id=account.patient_id, source=source)
    return account


def start_session(session: Session, *, account: PatientAccount, now: dt.datetime | None = None) -> str:
    """A new portal session token for ``account``; only its hash is stored."""
    for_write(session)
    now = now or utcnow()
    token, hashed = new_token()
    session.add(PortalSession(token_hash=hashed, account_id=account.id, created_at=now, last_seen_at=now,
                              expires_at=now + dt.timedelta(hours=settings.SESSION_HOURS),
                              password_stamp=auth.password_stamp(account.password_hash)))
    session.flush()
    return token


def _record_active(session: Session, patient_id: int) -> bool:
    patient = session.get(Patient, patient_id)
    return patient is not None and patient.active


def check_session(session: Session, *, token: str, now: dt.datetime | None = None) -> Me | None:
    """The signed-in patient of a portal session token, or None: the session must exist, not be
    ended, expired or idle (IDLE_MINUTES), its account active and its password unchanged."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    row = session.exec(select(PortalSession).where(PortalSession.token_hash == token_hash(token))).first()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    account = session.get(PatientAccount, row.account_id)
    last_seen = row.last_seen_at or row.created_at
    if (now - last_seen >= dt.timedelta(minutes=settings.IDLE_MINUTES) or account is None or not account.active
            or row.password_stamp != auth.password_stamp(account.password_hash)
            or not _record_active(session, account.patient_id)):
        for_write(session)
        row.ended_at = now
        session.add(row)
        return None
    if now - last_seen >= auth.TOUCH_EVERY:
        for_write(session)
        row.last_seen_at = now
        session.add(row)
    patient = session.get(Patient, account.patient_id)
    return Me(account_id=account.id, patient_id=account.patient_id, session_id=row.id,
              name=f"{patient.first_name} {patient.last_name}",
              dependant_ids=dependants.dependant_ids(session, account_id=account.id))


def end_session(session: Session, *, token: str, now: dt.datetime | None = None) -> None:
    """Sign a portal session out (idempotent)."""
    if not token:
        return
    for_write(session)
    row = session.exec(select(PortalSession).where(PortalSession.token_hash == token_hash(token))).first()
    if row is not None and row.ended_at is None:
        row.ended_at = now or utcnow()
        session.add(row)
        account = session.get(PatientAccount, row.account_id)
        audit.record(session, actor=None, action="portal_sign_out", entity="patient_account", entity_id=row.account_id,
                     patient_id=account.patient_id if account else None, source="portal")


def invitation_status(session: Session, *, actor: Actor, patient_id: int) -> tuple[str, str]:
    """What the desk sees on the profile: whether the patient has a portal account, in words,
    and the e-mail to invite (the account's, else the patient's)."""
    require(actor.role, "patient.search")
    account = account_of(session, patient_id)
    if account is None:
        patient = session.get(Patient, patient_id)
        return "No portal account yet.", (patient.email if patient else "")
    if account.password_hash:
        return f"Portal account active ({account.email}).", account.email
    return f"Invited ({account.email}); the patient has not set a password yet.", account.email
