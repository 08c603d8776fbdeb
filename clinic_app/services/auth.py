"""Passwords, sign-in sessions and staff accounts."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from passlib.context import CryptContext
from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.models import ROLES, Provider, User, UserSession
from clinic_app.services import audit
from clinic_app.services.actor import Actor
from clinic_app.services.errors import BadCredentials, InvalidInput
from clinic_app.services.permissions import require

# argon2 via argon2-cffi; passlib's bcrypt backend breaks with bcrypt 5 (REFLEX.md).
_passwords = CryptContext(schemes=["argon2"], deprecated="auto")
# A hash to verify against when the username is unknown, so that timing does not
# tell an attacker which usernames exist.
_DUMMY_HASH = _passwords.hash("not-a-real-password")

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256


def hash_password(password: str) -> str:
    """The argon2 hash of ``password``."""
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _passwords.verify(password, password_hash)
    except (ValueError, TypeError):
        return False


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


def authenticate(session: Session, *, username: str, password: str, source: str = "") -> User:
    """The active user with these credentials; BadCredentials otherwise. Audited either way."""
    username = (username or "").strip().lower()
    if not username or not password or len(password) > MAX_PASSWORD or len(username) > 64:
        raise BadCredentials()
    user = session.exec(select(User).where(User.username == username)).first()
    ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
    for_write(session)  # after the slow hash check, so sign-ins do not queue behind it
    if not (user and ok and user.active):
        # The attempted username is not logged: it is often a password typed in the wrong box.
        audit.record(session, actor=None, action="sign_in_failed", entity="user", source=source)
        session.commit()
        raise BadCredentials()
    audit.record(session, actor=actor_for(user, source), action="sign_in", entity="user", entity_id=user.id)
    session.commit()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
            expires_at=now + dt.timedelta(hours=settings.SESSION_HOURS),
        )
    )
    session.commit()
    return token


def user_for_token(session: Session, *, token: str, now: dt.datetime | None = None) -> User | None:
    """The active user a live session token belongs to, or None."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    row = session.exec(select(UserSession).where(UserSession.token_hash == _token_hash(token))).first()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    return user if user and user.active else None


def end_session(session: Session, *, token: str) -> None:
    """Sign a session out (idempotent)."""
    for_write(session)
    if not token:
        return
    row = session.exec(select(UserSession).where(UserSession.token_hash == _token_hash(token))).first()
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        user = session.get(User, row.user_id)
        if user:
            audit.record(session, actor=actor_for(user), action="sign_out", entity="user", entity_id=user.id)
        session.commit()


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
    if not (MIN_PASSWORD <= len(password or "") <= MAX_PASSWORD):
        raise InvalidInput(f"Password must be at least {MIN_PASSWORD} characters.")
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
    """A new staff account. ``actor`` None means the command line (the machine's operator)."""
    for_write(session)
    if actor is not None:
        require(actor.role, "user.create")
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
    )
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="create", entity="user", entity_id=user.id, detail=role)
    session.commit()
    return user
