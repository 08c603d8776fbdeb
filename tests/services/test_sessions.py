"""When a sign-in session is valid, and when it ends (issue 12): every check asks the server's
session, and ending one is announced so that every worker resets its tabs."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from clinic_app.live import bus
from clinic_app.live.events import SessionsEnded, decode
from clinic_app.models import AuditLog, User, UserSession
from clinic_app.services.platform import auth
from tests.conftest import PASSWORD


def _start(session, username: str, now: dt.datetime | None = None) -> tuple[str, int]:
    user = session.exec(select(User).where(User.username == username)).one()
    token = auth.start_session(session, user=user, now=now)
    return token, session.exec(select(UserSession.id).order_by(UserSession.id.desc())).first()


def test_a_session_is_live_only_while_every_rule_holds(session, clinic):
    token, ident = _start(session, "reception")
    live = auth.check_session(session, token=token)
    assert (live.id, live.user.username) == (ident, "reception")
    assert auth.check_session(session, token="") is None and auth.check_session(session, token=token + "x") is None
    with bus.held() as published:
        # Its account's password changed anywhere (here, straight in the database): it ends.
        user = session.get(User, clinic.reception.user_id)
        user.password_hash = auth.hash_password("another pass 77")
        session.add(user)
        session.commit()
        assert auth.check_session(session, token=token) is None
        session.commit()  # the caller's commit sends the event
    assert published == [SessionsEnded(session_ids=(ident,))]
    row = session.get(UserSession, ident)
    assert row.ended_at is not None
    assert session.exec(select(AuditLog.action).order_by(AuditLog.id.desc())).first() == "session_password_changed"


def test_deactivation_and_a_reset_end_every_session_and_say_so(session, clinic):
    one, first = _start(session, "biller")
    two, second = _start(session, "biller")
    with bus.held() as published:
        auth.set_active(session, actor=clinic.admin, user_id=clinic.biller.user_id, active=False)
        session.commit()  # the caller's commit sends the event
    assert published == [SessionsEnded(session_ids=(first, second))]
    assert auth.check_session(session, token=one) is None and auth.check_session(session, token=two) is None
    auth.set_active(session, actor=clinic.admin, user_id=clinic.biller.user_id, active=True)
    three, third = _start(session, "biller")
    with bus.held() as published:
        auth.reset_password(session, actor=clinic.admin, user_id=clinic.biller.user_id, temporary="temporary pass 5")
        session.commit()  # the caller's commit sends the event
    assert published == [SessionsEnded(session_ids=(third,))]
    assert auth.check_session(session, token=three) is None


def test_a_password_change_keeps_the_session_that_made_it_and_ends_the_others(session, clinic):
    here, mine = _start(session, "manager")
    there, other = _start(session, "manager")
    with bus.held() as published:
        auth.change_password(session, user_id=clinic.manager.user_id, current=PASSWORD, new="a new secret 42", keep_session=mine)
        session.commit()  # the caller's commit sends the event
    assert published == [SessionsEnded(session_ids=(other,))]
    assert auth.check_session(session, token=here).id == mine
    assert auth.check_session(session, token=there) is None
    # Without a session to keep (the command line, an old caller), every session ends.
    with bus.held() as published:
        auth.change_password(session, user_id=clinic.manager.user_id, current="a new secret 42", new="a third secret 43")
        session.commit()  # the caller's commit sends the event
    assert published == [SessionsEnded(session_ids=(mine,))]
    assert auth.check_session(session, token=here) is None


def test_idle_and_expired_sessions_are_ended_without_waiting_for_a_click(session, clinic):
    start = dt.datetime(2030, 3, 12, 8, 0, tzinfo=dt.UTC)
    idle_token, idle = _start(session, "reception", now=start)
    busy_token, busy = _start(session, "admin", now=start)
    row = session.get(UserSession, busy)
    row.last_seen_at = start + dt.timedelta(minutes=14)
    session.add(row)
    session.commit()
    with bus.held() as published:
        assert auth.end_idle_sessions(session, now=start + dt.timedelta(minutes=16)) == [idle]
        session.commit()  # the caller's commit sends the event
    assert published == [SessionsEnded(session_ids=(idle,))]
    with bus.held() as published:
        assert auth.end_idle_sessions(session, now=start + dt.timedelta(hours=13)) == [busy]
        session.commit()  # the caller's commit sends the event
    actions = session.exec(select(AuditLog.action).where(AuditLog.action.like("session_%")).order_by(AuditLog.id)).all()
    assert actions == ["session_idle_timeout", "session_expired"]
    assert auth.check_session(session, token=idle_token) is None and auth.check_session(session, token=busy_token) is None


def test_signing_out_announces_the_session_once():
    event = SessionsEnded(session_ids=(4, 9))
    assert decode(event.to_json()) == event


def test_sign_out_ends_the_session_and_announces_it(session, clinic):
    token, ident = _start(session, "clin")
    with bus.held() as published:
        assert auth.end_session(session, token=token) == ident
        assert auth.end_session(session, token=token) is None  # once
        session.commit()  # the caller's commit sends the event
    assert published == [SessionsEnded(session_ids=(ident,))]
