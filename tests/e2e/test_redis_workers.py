"""Several backend workers on Redis: a sign on one worker reaches boards on the others."""

from __future__ import annotations

import os
import pickle

import pytest
import redis
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, running_app, seed_e2e_clinic
from tests.e2e.test_app import sign_in

pytestmark = pytest.mark.e2e
REDIS = os.environ.get("CLINIC_TEST_REDIS", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/3"


@pytest.fixture(scope="module")
def redis_app(tmp_path_factory):
    redis.Redis.from_url(REDIS).flushdb()  # this test's own Redis database, emptied
    with running_app(
        tmp_path_factory.mktemp("redis-app"), REDIS_URL=REDIS, REFLEX_REDIS_URL=REDIS, GRANIAN_WORKERS="2",
    ) as started:
        seed_e2e_clinic(started[1])
        yield started


def _workers_holding_sockets() -> set[str]:
    """The worker instances that hold a browser socket, as Reflex records them in Redis."""
    client = redis.Redis.from_url(REDIS)
    records = [client.get(key) for key in client.scan_iter("token_manager_socket_record_*")]
    return {pickle.loads(r).instance_id for r in records if r}


def test_boards_on_every_worker_see_a_check_in(browser, redis_app):
    """Boards are opened until both workers hold some; a check-in on one reaches all."""
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
    for context in contexts:
        context.close()
