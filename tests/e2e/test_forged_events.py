"""Forged events: a browser socket of one role sends another role's events by hand.

The page would never offer these buttons; the services refuse them anyway, say why,
and change nothing.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlmodel import Session, select

from bench.live_latency import Browser, LeanSocket, reflex_names
from clinic_app.db import make_engine
from clinic_app.models import Appointment, Charge, Note, User
from clinic_app.services.platform import auth
from tests.e2e.conftest import seed_e2e_clinic

pytestmark = pytest.mark.e2e


class Tab(Browser):
    """A socket tab that keeps every state's latest vars."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.vars: dict[str, dict] = {}

    def on_delta(self, delta: dict, now: float) -> None:
        for state, values in delta.items():
            self.vars.setdefault(state, {}).update(values)


def _run(coro):
    """Runs one scenario in its own thread and event loop; re-raises what went wrong in it."""
    box: dict = {}

    async def main():
        try:
            return await coro
        finally:
            await LeanSocket.close_session()

    def target():
        try:
            box["result"] = asyncio.run(main())
        except BaseException as exc:  # handed to the test's thread below
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), "the socket scenario did not finish within 60 s"
    if "error" in box:
        raise box["error"]
    return box["result"]


@pytest.fixture(scope="module")
def forged(app_server):
    base, db = app_server
    seed_e2e_clinic(db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        def token(username):
            return auth.start_session(s, user=s.exec(select(User).where(User.username == username)).one())

        tokens = {"desk": token("e2e_desk"), "biller": token("e2e_bill")}
        s.commit()  # the seed is the caller: the sessions it started are kept
        visit = s.exec(select(Appointment).join(User, User.provider_id == Appointment.provider_id)
                       .where(User.username == "e2e_clin")).first()
    yield base, engine, tokens, visit.id
    engine.dispose()


def test_reception_cannot_sign_bill_or_open_notes_by_sending_the_events(forged):
    base, engine, tokens, visit_id = forged
    names = reflex_names()
    from clinic_app.state.billing import BillingQueueState

    billing = BillingQueueState.get_full_name()
    marker = names.marker

    async def scenario():
        tab = Tab(base, names, "/board", tokens["desk"])
        await tab.connect()
        await asyncio.sleep(1.5)
        await tab.send(f"{names.chart}.open_visit", {"appointment_id": visit_id})
        await asyncio.sleep(1.0)
        opened = dict(tab.vars.get(names.chart, {}))
        await tab.send(f"{names.chart}.sign", {})
        await tab.send(f"{billing}.mark_billed", {"appointment_id": visit_id})
        await asyncio.sleep(1.5)
        await tab.close()
        return opened, tab.vars

    opened, seen = _run(scenario())
    assert opened.get("message" + marker) == "The reception role may not open patient charts."
    assert not opened.get("note_id" + marker)  # no note contents reached the desk
    assert seen[billing]["message" + marker] == "The reception role may not mark visits billed."
    with Session(engine) as s:
        assert s.get(Appointment, visit_id).status == "booked"
        assert s.exec(select(Note).where(Note.appointment_id == visit_id)).first() is None
        assert s.exec(select(Charge).where(Charge.appointment_id == visit_id)).all() == []


def test_a_biller_cannot_check_patients_in_or_book(forged):
    base, engine, tokens, visit_id = forged
    names = reflex_names()
    marker = names.marker

    async def scenario():
        tab = Tab(base, names, "/billing", tokens["biller"])
        await tab.connect()
        await asyncio.sleep(1.5)
        await tab.send(f"{names.calendar}.select", {"appointment_id": visit_id})  # the panel's visit
        await asyncio.sleep(1.0)
        after_select = dict(tab.vars.get(names.visit, {}))
        await tab.send(f"{names.visit}.check_in", {})
        await asyncio.sleep(1.0)
        after_check_in = dict(tab.vars.get(names.visit, {}))
        await tab.send(f"{names.booking}.book", {})
        await asyncio.sleep(1.0)
        await tab.close()
        return after_select, after_check_in, tab.vars

    with Session(engine) as s:
        booked_before = len(s.exec(select(Appointment.id)).all())
    after_select, after_check_in, seen = _run(scenario())
    assert after_select["message" + marker] == "The biller role may not view the calendar board."
    assert not after_select.get("row" + marker)  # no visit's details reached the biller
    assert after_check_in["message" + marker] == "The biller role may not check patients in."
    assert seen[names.booking]["message" + marker] == "The biller role may not book appointments."
    with Session(engine) as s:
        assert s.get(Appointment, visit_id).status == "booked"
        assert len(s.exec(select(Appointment.id)).all()) == booked_before  # nothing was booked
