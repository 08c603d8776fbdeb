"""Passwords, sign-in sessions and staff accounts.

Safeguards (HIPAA person authentication and automatic logoff): argon2 hashes, a
password policy, lock-out after repeated failures, sessions that end after a
working day or after IDLE_MINUTES without activity, and a forced change of any
password an admin set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from passlib.context import CryptContext
from sqlalchemy import and_, or_
from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.live.bus import publish_on_commit
from clinic_app.live.events import SessionsEnded
from clinic_app.models import ROLES, Provider, User, UserSession
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import hhmm
from clinic_app.services.platform.errors import BadCredentials, ClinicError, InvalidInput, NotAllowed, NotFound
from clinic_app.services.platform.permissions import require

# argon2 via argon2-cffi; passlib's bcrypt backend breaks with bcrypt 5 (REFLEX.md).
_passwords = CryptContext(schemes=["argon2"], deprecated="auto")
# A hash to verify against when the username is unknown, so that timing does not
# tell an attacker which usernames exist.
_DUMMY_HASH = _passwords.hash("not-a-real-password")

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
# Refused outright, whatever else they satisfy (the most common passwords of that length).
COMMON_PASSWORDS = frozenset(
    {"password123", "password1!", "1234567890", "qwerty12345", "iloveyou12", "welcome123", "changeme123", "letmein123",
     "administrator1", "password12", "p@ssw0rd123", "qwertyuiop1"}
)
TOUCH_EVERY = dt.timedelta(seconds=60)


class AccountLocked(ClinicError):
    """Too many failed sign-ins in a row: the account waits, or an admin unlocks it."""


def hash_password(password: str) -> str:
    """The argon2 hash of ``password``."""
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _passwords.verify(password, password_hash)
    except (ValueError, TypeError):
        return False


def check_password_policy(password: str, *, username: str = "") -> None:
    """InvalidInput naming what to change unless ``password`` is acceptable."""
    password = password or ""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"Password must be at least {MIN_PASSWORD} characters.")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"[^A-Za-z]", password):
        raise InvalidInput("Password must mix letters with digits, spaces or symbols.")
    if len(set(password)) < 4:
        raise InvalidInput("Password repeats too few characters; choose a less predictable one.")
    if username and username.lower() in password.lower():
        raise InvalidInput("Password must not contain the username.")
    if password.lower() in COMMON_PASSWORDS:
        raise InvalidInput("That password is among the most common ones; choose another.")


def actor_for(user: User, source: str = "") -> Actor:
    """The Actor services see for ``user``."""
    return Actor(
        user_id=user.id,
        role=user.role,
        name=user.full_name,
        provider_id=user.provider_id,
        location_id=user.location_id,
        source=source,
    )


def authenticate(
    session: Session, *, username: str, password: str, source: str = "", now: dt.datetime | None = None
) -> User:
    """The active user with these credentials; BadCredentials otherwise. Audited either way.

    A locked account is refused; only someone who knows the right password learns
    that it is locked (and until when), so the lock tells an attacker nothing.
    """
    now = now or utcnow()
    username = (username or "").strip().lower()
    if not username or not password or len(password) > MAX_PASSWORD or len(username) > 64:
        raise BadCredentials()
    user = session.exec(select(User).where(User.username == username)).first()
    ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
    for_write(session)  # after the slow hash check, so sign-ins do not queue behind it
    if user is not None:
        session.refresh(user)
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    if user is None or not user.active or not ok or locked:
        # The attempted username is not logged: it is often a password typed in the wrong box.
        audit.record(session, actor=None, action="sign_in_failed", entity="user", source=source)
        if user is not None and user.active and not ok and not locked:
            user.failed_sign_ins += 1
            if user.failed_sign_ins >= settings.MAX_FAILED_SIGN_INS:
                user.locked_until = now + dt.timedelta(minutes=settings.LOCK_MINUTES)
                user.failed_sign_ins = 0
                audit.record(session, actor=None, action="account_locked", entity="user", entity_id=user.id, source=source)
            session.add(user)
        session.flush()
        if locked and ok:
            raise AccountLocked(
                f"This account is locked after repeated failed sign-ins until {hhmm(user.locked_until, 'UTC')} UTC; "
                "wait, or ask an admin to unlock it."
            )
        raise BadCredentials()
    user.failed_sign_ins = 0
    user.locked_until = None
    session.add(user)
    audit.record(session, actor=actor_for(user, source), action="sign_in", entity="user", entity_id=user.id)
    session.flush()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_stamp(password_hash: str) -> str:
    """A short fingerprint of a password hash: a session is valid only while its account's
    password is the one it began with (a change anywhere ends the others)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def start_session(session: Session, *, user: User, now: dt.datetime | None = None) -> str:
    """A new sign-in token for ``user``; only its hash is stored."""
    for_write(session)
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(hours=settings.SESSION_HOURS),
            password_stamp=password_stamp(user.password_hash),
        )
    )
    session.flush()
    return token


@dataclass(frozen=True)
class LiveSession:
    """A session that may act now: its id (what a browser tab is bound to) and its user."""

    id: int
    user: User


def check_session(session: Session, *, token: str, now: dt.datetime | None = None, touch: bool = True) -> LiveSession | None:
    """The live session a sign-in token belongs to, or None: it must exist, not be ended,
    expired or idle, its account must be active and its password the one the session began
    with. A session found idle (IDLE_MINUTES, automatic log-off) or whose account was
    deactivated or whose password changed is ended here; a live one is marked seen (at most
    once a minute) unless ``touch`` is False.
    """
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    row = session.exec(select(UserSession).where(UserSession.token_hash == _token_hash(token))).first()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    last_seen = row.last_seen_at or row.created_at
    why = None
    if now - last_seen >= dt.timedelta(minutes=settings.IDLE_MINUTES):
        why = "session_idle_timeout"
    elif user is None or not user.active:
        why = "session_account_inactive"
    elif row.password_stamp != password_stamp(user.password_hash):
        why = "session_password_changed"
    if why is not None:
        for_write(session)
        session.refresh(row)
        if row.ended_at is None:
            row.ended_at = now
            session.add(row)
            audit.record(session, actor=None, action=why, entity="user", entity_id=row.user_id)
            session.flush()
            sessions_ended(session, [row.id])
        return None
    if touch and now - last_seen >= TOUCH_EVERY:
        for_write(session)
        row.last_seen_at = now
        session.add(row)
        session.flush()
    return LiveSession(id=row.id, user=user)


def user_for_token(session: Session, *, token: str, now: dt.datetime | None = None, touch: bool = True) -> User | None:
    """The active user a live session token belongs to, or None (see check_session)."""
    live = check_session(session, token=token, now=now, touch=touch)
    return live.user if live else None


def sessions_ended(session: Session, session_ids: list[int]) -> None:
    """Tell every worker that these sessions ended (once the caller commits): each resets the
    open tabs of them it holds and sends them to sign-in (state/sessions.py)."""
    if session_ids:
        publish_on_commit(session, SessionsEnded(session_ids=tuple(session_ids)))


def end_session(session: Session, *, token: str) -> int | None:
    """Sign a session out (idempotent); the id of the session it ended, if any."""
    if not token:
        return None
    for_write(session)
    row = session.exec(select(UserSession).where(UserSession.token_hash == _token_hash(token))).first()
    ended = None
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        ended = row.id
        user = session.get(User, row.user_id)
        if user:
            audit.record(session, actor=actor_for(user), action="sign_out", entity="user", entity_id=user.id)
    session.flush()
    if ended is not None:
        sessions_ended(session, [ended])
    return ended


def end_idle_sessions(session: Session, *, now: dt.datetime | None = None) -> list[int]:
    """End every session idle for IDLE_MINUTES or past its expiry (automatic log-off), without
    waiting for its tabs' next event; their tabs are then sent to sign-in. The ids it ended."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(minutes=settings.IDLE_MINUTES)
    for_write(session)
    rows = session.exec(select(UserSession).where(
        UserSession.ended_at.is_(None),
        or_(UserSession.expires_at <= now,
            and_(UserSession.last_seen_at.is_not(None), UserSession.last_seen_at <= cutoff),
            and_(UserSession.last_seen_at.is_(None), UserSession.created_at <= cutoff)),
    )).all()
    for row in rows:
        row.ended_at = now
        session.add(row)
        audit.record(session, actor=None, action="session_expired" if row.expires_at <= now else "session_idle_timeout",
                     entity="user", entity_id=row.user_id)
    session.flush()
    sessions_ended(session, [row.id for row in rows])
    return [row.id for row in rows]


def _end_all_sessions(session: Session, user_id: int, now: dt.datetime, keep: int | None = None) -> list[int]:
    """End the user's open sessions (but ``keep``); their ids, to announce after the commit."""
    ended = []
    for row in session.exec(select(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))):
        if row.id == keep:
            continue
        row.ended_at = now
        session.add(row)
        ended.append(row.id)
    return ended


def validate_new_user(*, username: str, full_name: str, password: str, role: str) -> tuple[str, str]:
    """Normalised (username, full_name), or InvalidInput naming what to fix."""
    username = (username or "").strip().lower()
    full_name = (full_name or "").strip()
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            "Username must be 3-64 characters: lower-case letters, digits, dot, dash or underscore."
        )
    if not full_name or len(full_name) > 120:
        raise InvalidInput("Full name is required (at most 120 characters).")
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of: {', '.join(ROLES)}.")
    check_password_policy(password, username=username)
    return username, full_name


def create_user(
    session: Session,
    *,
    actor: Actor | None,
    username: str,
    full_name: str,
    password: str,
    role: str,
    provider_id: int | None = None,
    location_id: int | None = None,
) -> User:
    """A new staff account. ``actor`` None means the command line (the machine's operator).

    An account an admin creates must change its password at the first sign-in: the
    admin knows the first one.
    """
    if actor is not None:
        require(actor.role, "user.create")
    for_write(session)
    username, full_name = validate_new_user(
        username=username, full_name=full_name, password=password, role=role
    )
    if session.exec(select(User).where(User.username == username)).first():
        raise InvalidInput(f"The username {username!r} is taken; choose another.")
    if role == "clinician":
        if provider_id is None or session.get(Provider, provider_id) is None:
            raise InvalidInput("A clinician account must be linked to an existing provider.")
        location_id = location_id or session.get(Provider, provider_id).location_id
    elif provider_id is not None:
        raise InvalidInput("Only clinician accounts are linked to a provider.")
    user = User(
        username=username,
        full_name=full_name,
        password_hash=hash_password(password),
        role=role,
        provider_id=provider_id,
        location_id=location_id,
        must_change_password=actor is not None,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="create", entity="user", entity_id=user.id, detail=role)
    session.flush()
    return user


def change_password(session: Session, *, user_id: int, current: str, new: str, now: dt.datetime | None = None,
                    keep_session: int | None = None) -> None:
    """A user changes their own password (required after an admin set it). Every other
    session of the account ends; ``keep_session`` (the one making the change) goes on."""
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("That account no longer exists.")
    if not verify_password(current or "", user.password_hash):
        raise InvalidInput("The current password is not right.")
    if new == current:
        raise InvalidInput("The new password must differ from the current one.")
    check_password_policy(new, username=user.username)
    for_write(session)
    session.refresh(user)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.password_changed_at = now
    session.add(user)
    ended = _end_all_sessions(session, user.id, now, keep=keep_session)
    kept = session.get(UserSession, keep_session) if keep_session is not None else None
    if kept is not None and kept.user_id == user.id and kept.ended_at is None:
        kept.password_stamp = password_stamp(user.password_hash)
        session.add(kept)
    audit.record(session, actor=actor_for(user), action="password_change", entity="user", entity_id=user.id,
                 detail=f"{len(ended)} other sessions ended")
    session.flush()
    sessions_ended(session, ended)


def list_users(session: Session, *, actor: Actor) -> list[User]:
    """Every account, by username (for the admin)."""
    require(actor.role, "user.manage")
    return list(session.exec(select(User).order_by(User.username)))


def _managed(session: Session, actor: Actor, user_id: int) -> User:
    require(actor.role, "user.manage")
    for_write(session)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("That account no longer exists.")
    return user


def set_active(session: Session, *, actor: Actor, user_id: int, active: bool, now: dt.datetime | None = None) -> User:
    """Deactivate (sessions end at once) or reactivate an account. Accounts are never deleted."""
    user = _managed(session, actor, user_id)
    if user.id == actor.user_id and not active:
        raise NotAllowed("You cannot deactivate your own account; ask another admin.")
    user.active = active
    ended = _end_all_sessions(session, user.id, now or utcnow()) if not active else []
    session.add(user)
    audit.record(session, actor=actor, action="activate" if active else "deactivate", entity="user", entity_id=user.id)
    session.flush()
    sessions_ended(session, ended)
    return user


def unlock(session: Session, *, actor: Actor, user_id: int) -> User:
    """Lift a lock-out."""
    user = _managed(session, actor, user_id)
    user.locked_until = None
    user.failed_sign_ins = 0
    session.add(user)
    audit.record(session, actor=actor, action="unlock", entity="user", entity_id=user.id)
    session.flush()
    return user


def reset_password(session: Session, *, actor: Actor, user_id: int, temporary: str, now: dt.datetime | None = None) -> User:
    """Set a temporary password the user must change at the next sign-in; their sessions end."""
    user = _managed(session, actor, user_id)
    check_password_policy(temporary, username=user.username)
    user.password_hash = hash_password(temporary)
    user.must_change_password = True
    user.locked_until = None
    user.failed_sign_ins = 0
    ended = _end_all_sessions(session, user.id, now or utcnow())
    session.add(user)
    audit.record(session, actor=actor, action="password_reset", entity="user", entity_id=user.id)
    session.flush()
    sessions_ended(session, ended)
    return user
