"""Several backend workers on Redis: a change on one worker reaches boards on the others,
each board's pushed changes stay in its state on the server, and a browser that
reconnects to another worker stays signed in and sees the same board."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import re
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
import redis
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import AppointmentType, Location, Patient, Provider, User
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import auth
from tests.e2e.conftest import PASSWORD, running_app, seed_e2e_clinic
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e
REDIS = os.environ.get("CLINIC_TEST_REDIS", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/3"


def _book_more_visits(db) -> None:
    """Yara Quinlan at 12:00 and Zed Quill again at 13:00 today, beside the seed's Zed at 11:00."""
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
        provider = s.exec(select(Provider).where(Provider.location_id == location.id)).one()
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        desk = s.exec(select(User).where(User.username == "e2e_desk")).one()
        zone = ZoneInfo(location.timezone)
        for mrn, hour in (("E2E2", 12), ("E2E1", 13)):
            patient = s.exec(select(Patient).where(Patient.mrn == mrn)).one()
            starts = dt.datetime.combine(dt.datetime.now(zone).date(), dt.time(hour, 0), tzinfo=zone).astimezone(dt.UTC)
            scheduling.book_appointment(
                s, actor=auth.actor_for(desk), patient_id=patient.id, provider_id=provider.id,
                appointment_type_id=kind.id, starts_at=starts,
            )
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()


@pytest.fixture(scope="module")
def redis_app(tmp_path_factory):
    redis.Redis.from_url(REDIS).flushdb()  # this test's own Redis database, emptied
    with running_app(
        tmp_path_factory.mktemp("redis-app"), REDIS_URL=REDIS, REFLEX_REDIS_URL=REDIS, GRANIAN_WORKERS="2",
        # Pub/sub channels are server-wide (not per database): a channel of this run's own.
        CLINIC_LIVE_CHANNEL=f"clinic:live:test:{uuid.uuid4().hex}",
    ) as started:
        seed_e2e_clinic(started[1])
        _book_more_visits(started[1])
        yield started


def _socket_owner(token: str) -> str | None:
    """The worker instance that holds the socket of the tab with ``token``, as Reflex records it."""
    record = redis.Redis.from_url(REDIS).get(f"token_manager_socket_record_{token}")
    return pickle.loads(record).instance_id if record else None


def _workers_holding_sockets() -> set[str]:
    client = redis.Redis.from_url(REDIS)
    records = [client.get(key) for key in client.scan_iter("token_manager_socket_record_*")]
    return {pickle.loads(r).instance_id for r in records if r}


def _tab_token(page) -> str:
    return page.evaluate("() => window.sessionStorage.getItem('token')")


def _owner_after_reconnect(token: str, before: str | None) -> str | None:
    """The tab's worker once its new socket is recorded (the old one's record may linger briefly)."""
    deadline = time.monotonic() + 3
    owner = _socket_owner(token)
    while owner in (None, before) and time.monotonic() < deadline:
        time.sleep(0.2)
        owner = _socket_owner(token)
    return owner


def test_boards_on_every_worker_see_changes_and_keep_them(browser, redis_app):
    """Boards are opened until both workers hold some; two check-ins on one reach all,
    and the second push does not undo the first (each push stayed in the board's state)."""
    base, _ = redis_app
    contexts, pages = [], []
    while len(pages) < 4 or (len(_workers_holding_sockets()) < 2 and len(pages) < 16):
        contexts.append(browser.new_context(viewport={"width": 1300, "height": 800}))
        page = contexts[-1].new_page()
        sign_in(page, base, "e2e_desk", PASSWORD)
        expect(page.get_by_role("heading", name="Calendar board")).to_be_visible()
        pages.append(page)
    assert len(_workers_holding_sockets()) == 2, "every board landed on one worker"
    desk = pages[0]
    desk.get_by_role("button", name="Quill, Zed, 11:00, Booked").click()
    desk.get_by_role("button", name="Check in").click()
    for page in pages:
        expect(page.get_by_role("button", name="Quill, Zed, 11:00, Arrived")).to_be_visible(timeout=10_000)
    other = pages[-1]  # a board on the other worker when the first ones shared one
    other.get_by_role("button", name="Quinlan, Yara, 12:00, Booked").click()
    other.get_by_role("button", name="Check in").click()
    for page in pages:
        expect(page.get_by_role("button", name="Quinlan, Yara, 12:00, Arrived")).to_be_visible(timeout=10_000)
        expect(page.get_by_role("button", name="Quill, Zed, 11:00, Arrived")).to_be_visible()

    # A reload reconnects the tab (same tab token, so the same state) until it lands on
    # the other worker: still signed in by the session cookie, the same board, live.
    tab = pages[1]
    token = _tab_token(tab)
    first_owner = _socket_owner(token)
    owner = first_owner
    for _ in range(12):
        tab.reload()
        expect(tab.get_by_role("heading", name="Calendar board")).to_be_visible()
        owner = _owner_after_reconnect(token, first_owner)
        if owner not in (None, first_owner):
            break
    assert owner not in (None, first_owner), "twelve reloads all landed on the same worker"
    assert _tab_token(tab) == token
    expect(tab).not_to_have_url(re.compile(r"/login"))
    expect(tab.get_by_role("button", name="Quinlan, Yara, 12:00, Arrived")).to_be_visible()
    desk.get_by_role("button", name="Quill, Zed, 13:00, Booked").click()
    desk.get_by_role("button", name="Check in").click()
    expect(tab.get_by_role("button", name="Quill, Zed, 13:00, Arrived")).to_be_visible(timeout=10_000)
    for context in contexts:
        context.close()
