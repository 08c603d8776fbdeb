"""API tokens: only admins (or the CLI) make them, scopes are checked, only a hash is kept,
expiry is bounded in the service and in the database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from clinic_app.models import ApiToken, AuditLog
from clinic_app.services.platform import api_tokens
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound


def test_only_admins_create_tokens_and_the_secret_is_not_stored(session, clinic):
    for actor in (clinic.reception, clinic.clinician, clinic.biller, clinic.manager):
        with pytest.raises(NotAllowed, match="may not create API tokens"):
            api_tokens.create_token(session, actor=actor, username="reception", scopes="user/*.read", days=5)
    row, secret = api_tokens.create_token(session, actor=clinic.admin, username="Reception", scopes="user/Patient.read, user/Patient.read", days=5)
    assert row.scopes == "user/Patient.read" and row.created_by_user_id == clinic.admin.user_id
    stored = session.exec(select(ApiToken)).one()
    assert secret not in (stored.token_hash, stored.scopes, stored.label) and stored.token_hash == api_tokens.token_hash(secret)
    assert session.exec(select(AuditLog).where(AuditLog.entity == "api_token")).one().action == "create"
    grant = api_tokens.grant_for(session, token=secret)
    assert grant.user.username == "reception" and grant.permits("Patient", "read") and not grant.permits("Patient", "write")
    assert not grant.permits("Appointment", "read")


@pytest.mark.parametrize(("scopes", "days", "message"), [
    ("", 5, "at least one scope"),
    ("Patient.read", 5, "is not a scope"),
    ("user/Patient.delete", 5, "is not a scope"),
    ("user/*.read", 0, "1 to 366 days"),
    ("user/*.read", 367, "1 to 366 days"),
])
def test_bad_scopes_and_lifetimes_are_refused(session, clinic, scopes, days, message):
    with pytest.raises(InvalidInput, match=message):
        api_tokens.create_token(session, actor=clinic.admin, username="reception", scopes=scopes, days=days)
    session.rollback()
    assert session.exec(select(ApiToken)).all() == []


def test_unknown_users_and_tokens(session, clinic):
    with pytest.raises(NotFound):
        api_tokens.create_token(session, actor=clinic.admin, username="ghost", scopes="user/*.read", days=5)
    for bad in ("", "clk_x", "nope", "clk_" + "a" * 200):
        with pytest.raises(NotAllowed):
            api_tokens.grant_for(session, token=bad)


def test_the_database_refuses_a_token_that_expires_before_it_starts(session, clinic):
    now = dt.datetime.now(dt.UTC)
    session.add(ApiToken(token_hash="x" * 64, user_id=clinic.reception.user_id, scopes="user/*.read",
                         created_at=now, expires_at=now - dt.timedelta(seconds=1)))
    with pytest.raises(IntegrityError):
        session.commit()


def test_the_token_list_says_each_tokens_state_and_never_holds_the_secret(session, clinic):
    now = dt.datetime.now(dt.UTC)
    old, _ = api_tokens.create_token(session, actor=clinic.admin, username="biller", scopes="user/Claim.read", days=1,
                                     now=now - dt.timedelta(days=3))
    gone, _ = api_tokens.create_token(session, actor=clinic.admin, username="reception", scopes="user/*.read", days=9)
    api_tokens.revoke_token(session, actor=clinic.admin, token_id=gone.id)
    live, secret = api_tokens.create_token(session, actor=clinic.admin, username="clin", scopes="user/*.read", days=9, label="tablet app")
    rows = api_tokens.list_tokens(session, actor=clinic.admin)
    assert [(r["id"], r["username"], r["state"]) for r in rows] == [(live.id, "clin", "Active"), (gone.id, "reception", "Revoked"), (old.id, "biller", "Expired")]
    assert rows[0]["label"] == "tablet app" and secret not in str(rows)
    with pytest.raises(NotAllowed):
        api_tokens.list_tokens(session, actor=clinic.manager)
