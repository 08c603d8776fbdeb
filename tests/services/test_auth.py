"""Passwords, sign-in, sessions and accounts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.models import AuditLog, User
from clinic_app.services.platform import auth
from clinic_app.services.platform.errors import BadCredentials, InvalidInput, NotAllowed
from tests.conftest import PASSWORD


def test_passwords_are_stored_as_argon2_hashes(session, clinic):
    user = session.exec(select(User).where(User.username == "reception")).one()
    assert user.password_hash.startswith("$argon2")
    assert PASSWORD not in user.password_hash
    assert auth.verify_password(PASSWORD, user.password_hash)
    assert not auth.verify_password("wrong password", user.password_hash)


@pytest.mark.parametrize(("username", "password"), [("reception", "wrong password"), ("nobody", PASSWORD), ("", ""), ("reception", "x" * 10_000)])
def test_bad_credentials_say_so_and_nothing_more(session, clinic, username, password):
    with pytest.raises(BadCredentials) as info:
        auth.authenticate(session, username=username, password=password)
    assert str(info.value) == "Username or password is incorrect."
    if username and len(password) < 1000:
        failed = session.exec(select(AuditLog).where(AuditLog.action == "sign_in_failed")).all()
        assert len(failed) == 1 and failed[0].user_id is None and username not in failed[0].detail


def test_a_deactivated_user_cannot_sign_in(session, clinic):
    user = session.exec(select(User).where(User.username == "biller")).one()
    user.active = False
    session.add(user)
    session.commit()
    with pytest.raises(BadCredentials):
        auth.authenticate(session, username="biller", password=PASSWORD)


def test_session_tokens_resolve_until_signed_out_or_expired(session, clinic):
    user = auth.authenticate(session, username="Reception ", password=PASSWORD)
    token = auth.start_session(session, user=user)
    assert auth.user_for_token(session, token=token).id == user.id
    assert auth.user_for_token(session, token=token, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=13)) is None
    assert auth.user_for_token(session, token=token + "x") is None
    auth.end_session(session, token=token)
    assert auth.user_for_token(session, token=token) is None


def test_only_admins_create_users_and_input_is_checked(session, clinic):
    with pytest.raises(NotAllowed):
        auth.create_user(session, actor=clinic.manager, username="newbie", full_name="New Bie", password=PASSWORD, role="biller")
    for kwargs, message in [
        ({"username": "ab"}, "Username must be"),
        ({"password": "short"}, "at least 10 characters"),
        ({"role": "superuser"}, "Role must be one of"),
        ({"full_name": " "}, "Full name is required"),
        ({"username": "reception"}, "is taken"),
        ({"role": "clinician"}, "linked to an existing provider"),
    ]:
        args = {"username": "newbie", "full_name": "New Bie", "password": PASSWORD, "role": "biller", **kwargs}
        with pytest.raises(InvalidInput, match=message):
            auth.create_user(session, actor=clinic.admin, **args)
    assert session.exec(select(User).where(User.username == "newbie")).first() is None
    made = auth.create_user(session, actor=clinic.admin, username="newbie", full_name="New Bie", password=PASSWORD, role="biller")
    assert made.role == "biller"
