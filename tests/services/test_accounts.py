"""Account safeguards: policy, lock-out, idle log-off, forced change, admin management."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from clinic_app import settings
from clinic_app.db import utcnow
from clinic_app.models import AuditLog, User, UserSession
from clinic_app.services.platform import auth
from clinic_app.services.platform.errors import BadCredentials, InvalidInput, NotAllowed
from tests.conftest import PASSWORD


@pytest.mark.parametrize(
    ("password", "message"),
    [("short1!", "at least 10"), ("onlyletterslong", "mix letters"), ("1234567890123", "mix letters"),
     ("aaaa11112222", "repeats too few"), ("reception-2026", "must not contain the username"),
     ("Password123", "most common")],
)
def test_password_policy_names_what_to_change(password, message):
    with pytest.raises(InvalidInput, match=message):
        auth.check_password_policy(password, username="reception")


def test_repeated_failures_lock_the_account_and_only_the_right_password_learns_it(session, clinic):
    now = utcnow()
    for _ in range(settings.MAX_FAILED_SIGN_INS):
        with pytest.raises(BadCredentials):
            auth.authenticate(session, username="biller", password="wrong password 1", now=now)
    with pytest.raises(BadCredentials):
        auth.authenticate(session, username="biller", password="wrong password 1", now=now)
    with pytest.raises(auth.AccountLocked, match="locked after repeated failed sign-ins"):
        auth.authenticate(session, username="biller", password=PASSWORD, now=now)
    later = now + dt.timedelta(minutes=settings.LOCK_MINUTES, seconds=1)
    assert auth.authenticate(session, username="biller", password=PASSWORD, now=later).username == "biller"
    assert session.exec(select(AuditLog).where(AuditLog.action == "account_locked")).first() is not None


def test_an_admin_can_unlock(session, clinic):
    for _ in range(settings.MAX_FAILED_SIGN_INS):
        with pytest.raises(BadCredentials):
            auth.authenticate(session, username="biller", password="wrong password 1")
    auth.unlock(session, actor=clinic.admin, user_id=clinic.biller.user_id)
    assert auth.authenticate(session, username="biller", password=PASSWORD).username == "biller"


def test_a_success_resets_the_failure_count(session, clinic):
    for _ in range(settings.MAX_FAILED_SIGN_INS - 1):
        with pytest.raises(BadCredentials):
            auth.authenticate(session, username="biller", password="wrong password 1")
    auth.authenticate(session, username="biller", password=PASSWORD)
    with pytest.raises(BadCredentials):
        auth.authenticate(session, username="biller", password="wrong password 1")
    assert auth.authenticate(session, username="biller", password=PASSWORD).failed_sign_ins == 0


def test_an_idle_session_ends_and_an_active_one_lives(session, clinic):
    user = session.get(User, clinic.reception.user_id)
    start = utcnow()
    token = auth.start_session(session, user=user, now=start)
    step = dt.timedelta(minutes=settings.IDLE_MINUTES - 1)
    # Activity every 14 minutes keeps it alive for an hour...
    for i in range(1, 5):
        assert auth.user_for_token(session, token=token, now=start + i * step) is not None
    # ...and 15 minutes without any ends it, for good.
    idle = start + 4 * step + dt.timedelta(minutes=settings.IDLE_MINUTES)
    assert auth.user_for_token(session, token=token, now=idle) is None
    assert auth.user_for_token(session, token=token, now=start + 4 * step) is None
    assert session.exec(select(AuditLog).where(AuditLog.action == "session_idle_timeout")).first() is not None


def test_accounts_an_admin_creates_must_change_their_password(session, clinic):
    made = auth.create_user(session, actor=clinic.admin, username="newbie", full_name="New Bie", password="first pass 1", role="biller")
    assert made.must_change_password
    with pytest.raises(InvalidInput, match="current password is not right"):
        auth.change_password(session, user_id=made.id, current="nope", new="second pass 2")
    with pytest.raises(InvalidInput, match="must differ"):
        auth.change_password(session, user_id=made.id, current="first pass 1", new="first pass 1")
    auth.change_password(session, user_id=made.id, current="first pass 1", new="second pass 2")
    session.expire_all()
    user = session.get(User, made.id)
    assert not user.must_change_password and auth.verify_password("second pass 2", user.password_hash)


def test_deactivation_ends_sessions_and_an_admin_cannot_lock_themselves_out(session, clinic):
    user = session.get(User, clinic.biller.user_id)
    token = auth.start_session(session, user=user)
    auth.set_active(session, actor=clinic.admin, user_id=user.id, active=False)
    assert auth.user_for_token(session, token=token) is None
    with pytest.raises(BadCredentials):
        auth.authenticate(session, username="biller", password=PASSWORD)
    with pytest.raises(NotAllowed, match="own account"):
        auth.set_active(session, actor=clinic.admin, user_id=clinic.admin.user_id, active=False)
    with pytest.raises(NotAllowed):
        auth.set_active(session, actor=clinic.manager, user_id=user.id, active=True)


def test_a_password_reset_forces_a_change_and_ends_sessions(session, clinic):
    user = session.get(User, clinic.biller.user_id)
    token = auth.start_session(session, user=user)
    auth.reset_password(session, actor=clinic.admin, user_id=user.id, temporary="temporary pass 9")
    assert auth.user_for_token(session, token=token) is None
    session.expire_all()
    assert session.get(User, user.id).must_change_password
    assert session.exec(select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))).all() == []
