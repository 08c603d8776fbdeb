"""Bearer tokens for the API: per user, scoped, expiring; only a hash is stored.

Scopes follow SMART on FHIR's form ``<context>/<resource type or *>.<read|write|*>``
(for example ``user/Patient.read``, ``user/*.read``, ``system/*.read``). A token never
gives more than its user's role allows (services/platform/permissions.py): the scopes narrow it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import ApiToken, User
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound
from clinic_app.services.platform.permissions import require

TOKEN_PREFIX = "clk_"
MAX_DAYS = 366
SCOPE_RE = re.compile(r"^(patient|user|system)/(\*|[A-Z][A-Za-z]{1,40})\.(read|write|\*)$")


@dataclass(frozen=True)
class TokenGrant:
    """Who a presented token acts for, and what its scopes allow."""

    user: User
    scopes: tuple[str, ...]
    token_id: int

    def permits(self, resource_type: str, mode: str) -> bool:
        """Whether a scope covers ``mode`` ("read" or "write") on ``resource_type``."""
        for scope in self.scopes:
            match = SCOPE_RE.match(scope)
            if match and match[2] in ("*", resource_type) and match[3] in ("*", mode):
                return True
        return False


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of ``token``: what the table keeps."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(text: str) -> tuple[str, ...]:
    """Scopes separated by spaces or commas, checked; InvalidInput names a bad one."""
    scopes = tuple(dict.fromkeys(s for s in re.split(r"[\s,]+", (text or "").strip()) if s))
    if not scopes:
        raise InvalidInput("Give at least one scope, for example user/*.read.")
    for scope in scopes:
        if not SCOPE_RE.match(scope):
            raise InvalidInput(
                f"{scope!r} is not a scope; write <patient|user|system>/<Type or *>.<read|write|*>, "
                "for example user/Patient.read."
            )
    if len(" ".join(scopes)) > 500:
        raise InvalidInput("Too many scopes (at most 500 characters).")
    return scopes


def create_token(
    session: Session,
    *,
    actor: Actor | None,
    username: str,
    scopes: str,
    days: int,
    label: str = "",
    now: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for ``username``: (the row, the token shown once). ``actor`` None = the CLI."""
    for_write(session)
    if actor is not None:
        require(actor.role, "api_token.create")
    now = now or utcnow()
    parsed = parse_scopes(scopes)
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"A token lasts 1 to {MAX_DAYS} days.")
    label = (label or "").strip()
    if len(label) > 80:
        raise InvalidInput("The label is too long (at most 80 characters).")
    user = session.exec(select(User).where(User.username == (username or "").strip().lower())).first()
    if user is None or not user.active:
        raise NotFound(f"There is no active user {username!r}.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=token_hash(token), user_id=user.id, label=label, scopes=" ".join(parsed),
        created_at=now, expires_at=now + dt.timedelta(days=days),
        created_by_user_id=actor.user_id if actor else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor=actor, action="create", entity="api_token", entity_id=row.id,
        detail=f"for user {user.id}; {row.scopes}; {days} days",
    )
    session.flush()
    return row, token


def revoke_token(session: Session, *, actor: Actor | None, token_id: int) -> None:
    """End a token now (idempotent)."""
    for_write(session)
    if actor is not None:
        require(actor.role, "api_token.create")
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("That API token does not exist.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(session, actor=actor, action="revoke", entity="api_token", entity_id=row.id)
    session.flush()


def grant_for(session: Session, *, token: str, now: dt.datetime | None = None) -> TokenGrant:
    """The grant of a live token; NotAllowed (with no detail worth guessing from) otherwise."""
    refused = NotAllowed("The API token is missing, unknown, expired or revoked.")
    if not token or len(token) > 100 or not token.startswith(TOKEN_PREFIX):
        raise refused
    now = now or utcnow()
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise refused
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise refused
    return TokenGrant(user=user, scopes=tuple(row.scopes.split()), token_id=row.id)


def list_tokens(session: Session, *, actor: Actor, now: dt.datetime | None = None) -> list[dict]:
    """Every token (newest first) with its user and state in words; never the secret."""
    require(actor.role, "api_token.create")
    now = now or utcnow()
    rows = session.exec(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id.desc())
    ).all()
    out = []
    for token, user in rows:
        if token.revoked_at is not None:
            state = "Revoked"
        elif token.expires_at <= now:
            state = "Expired"
        else:
            state = "Active"
        out.append({
            "id": token.id, "username": user.username, "role": user.role, "label": token.label,
            "scopes": token.scopes, "expires": token.expires_at.strftime("%Y-%m-%d %H:%M UTC"), "state": state,
        })
    return out
