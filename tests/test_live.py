"""The live bus and registry: in-process and across processes over Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import uuid

import pytest

from clinic_app.live import bus as bus_module
from clinic_app.live.bus import InProcessBus, RedisBus
from clinic_app.live.events import CLAIMS_TOPIC, AppointmentChanged, ClaimsChanged, decode
from clinic_app.live.registry import Registry
from clinic_app.services.charting import charting
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.revenue import claims, era, ledger
from tests.services.helpers import charted_note

REDIS_URL = os.environ.get("CLINIC_TEST_REDIS", "redis://127.0.0.1:6379/0")
EVENT = AppointmentChanged(appointment_id=7, location_id=1, provider_id=2, day="2030-03-12", status="ready_to_bill")


def test_event_topics_cover_every_screen_that_shows_the_visit():
    assert EVENT.topics() == ["board:1:2030-03-12", "chart:2:2030-03-12", "billing:1"]
    assert AppointmentChanged.from_json(EVENT.to_json()) == EVENT


def test_claims_events_travel_as_json_beside_appointment_events():
    event = ClaimsChanged(what="claim V1 created")
    assert event.topics() == [CLAIMS_TOPIC] == ["billing:claims"]
    assert decode(event.to_json()) == event and decode(EVENT.to_json()) == EVENT


def test_redis_bus_carries_claims_events_too():
    channel = f"clinic:test:{uuid.uuid4().hex}"
    worker_a, worker_b = RedisBus(REDIS_URL, channel), RedisBus(REDIS_URL, channel)
    claims_event = ClaimsChanged(what="835 posted")
    got = run_async(_collect(worker_b, 2, lambda: (worker_a.publish(claims_event), worker_a.publish(EVENT))))
    assert got == [claims_event, EVENT]


def test_registry_keeps_view_order_replaces_a_screens_topic_and_forgets_tokens():
    reg = Registry()
    reg.show("a", "board", ["board:1:2030-03-12"])
    reg.show("b", "board", ["board:1:2030-03-12"])
    reg.show("a", "kpi", ["kpi:2030-03-01:2030-03-31:1:*:*"])
    assert reg.tokens("board:1:2030-03-12") == ["a", "b"]
    reg.show("a", "board", ["board:1:2030-03-13"])  # a moved to the next day
    assert reg.tokens("board:1:2030-03-12") == ["b"]
    assert reg.topics_of("a") == {"board:1:2030-03-13", "kpi:2030-03-01:2030-03-31:1:*:*"}
    assert reg.topics_with_prefix("kpi:") == ["kpi:2030-03-01:2030-03-31:1:*:*"]
    reg.forget("a")
    assert reg.tokens("kpi:2030-03-01:2030-03-31:1:*:*") == [] and reg.count() == 1
    assert reg.topics_with_prefix("kpi:") == []


def test_a_visit_change_refreshes_the_kpi_ranges_that_hold_it_once_per_range(monkeypatch):
    from clinic_app.state import kpi as kpi_screen  # the dashboard declares its own surface

    reg = Registry()
    monkeypatch.setattr(kpi_screen, "registry", reg)
    reg.show("a", "kpi", ["kpi:2030-03-01:2030-03-31:*:*:*"])
    reg.show("b", "kpi", ["kpi:2030-03-01:2030-03-31:*:*:*"])  # same range: one topic, one recompute
    reg.show("c", "kpi", ["kpi:2030-03-12:2030-03-12:1:2:*"])
    reg.show("d", "kpi", ["kpi:2030-03-12:2030-03-12:1:5:*"])  # another provider
    reg.show("e", "kpi", ["kpi:2030-03-12:2030-03-12:4:*:*"])  # another location
    reg.show("f", "kpi", ["kpi:2030-04-01:2030-04-30:*:*:*"])  # another month
    reg.show("g", "kpi", ["kpi:not-a-range"])  # ignored, and it stops nothing
    assert sorted(kpi_screen._kpi_topics(EVENT)) == ["kpi:2030-03-01:2030-03-31:*:*:*", "kpi:2030-03-12:2030-03-12:1:2:*"]
    # A payment, claim or remittance moves the money tiles of every open range (bad topics still ignored).
    assert len(kpi_screen._all_kpi_topics(ClaimsChanged(what="ledger payment"))) == 5
    assert "kpi:not-a-range" not in kpi_screen._all_kpi_topics(ClaimsChanged(what="ledger payment"))


async def _collect(bus, count: int, publish) -> list[AppointmentChanged]:
    got: list[AppointmentChanged] = []

    async def listen():
        async for event in bus.listen():
            got.append(event)
            if len(got) == count:
                return

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.2)  # let the listener subscribe
    await asyncio.to_thread(publish)
    await asyncio.wait_for(task, timeout=5)
    return got


def run_async(coro):
    """Run ``coro`` on a fresh loop in its own thread (pytest-playwright keeps one running here)."""
    box: list = []
    thread = threading.Thread(target=lambda: box.append(asyncio.run(coro)))
    thread.start()
    thread.join(timeout=30)
    return box[0]


def test_in_process_bus_delivers_events_published_from_another_thread():
    bus = InProcessBus()
    got = run_async(_collect(bus, 1, lambda: bus.publish(EVENT)))
    assert got == [EVENT]


def test_redis_bus_carries_events_between_separate_bus_instances():
    # Two instances stand for two workers: one publishes, the other's listener hears it.
    channel = f"clinic:test:{uuid.uuid4().hex}"
    worker_a, worker_b = RedisBus(REDIS_URL, channel), RedisBus(REDIS_URL, channel)
    got = run_async(_collect(worker_b, 2, lambda: (worker_a.publish(EVENT), worker_a.publish(EVENT))))
    assert got == [EVENT, EVENT]


def test_signing_publishes_after_commit(monkeypatch, session, clinic):
    published: list[AppointmentChanged] = []
    monkeypatch.setattr(bus_module, "publish", published.append)
    appt, note = charted_note(session, clinic)
    session.commit()
    published.clear()
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    assert published == []  # not before the caller's commit
    session.commit()
    assert [(e.appointment_id, e.status, e.day, e.location_id) for e in published] == [
        (appt.id, "ready_to_bill", "2030-03-12", clinic.location.id)
    ]


@pytest.mark.parametrize("target", ["arrived", "cancelled"])
def test_a_refused_change_publishes_nothing(monkeypatch, session, clinic, target):
    published: list[AppointmentChanged] = []
    monkeypatch.setattr(bus_module, "publish", published.append)
    appt, _ = charted_note(session, clinic)
    session.commit()
    published.clear()
    with pytest.raises(Exception, match="cannot become"):
        scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status=target)
    session.commit()
    assert published == []


def _state_manager_facts(**env: str) -> dict:
    """The Redis state manager Reflex builds under rxconfig.py with ``env`` (a fresh process)."""
    import json
    import subprocess
    import sys

    from clinic_app.settings import PROJECT_ROOT

    code = (
        "import json, rxconfig\n"
        "from redis.asyncio import Redis\n"
        "from reflex.istate.manager.redis import StateManagerRedis\n"
        "m = StateManagerRedis(redis=Redis.from_url(rxconfig.REDIS_URL or 'redis://127.0.0.1:6379/0'))\n"
        "print(json.dumps({'oplock': m._oplock_enabled, 'hold_ms': m.oplock_hold_time_ms, 'lock_ms': m.lock_expiration}))\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REFLEX_OPLOCK", "REFLEX_REDIS"))}
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env={**clean, **env}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_with_redis_each_worker_keeps_its_browsers_states_between_pushes():
    # Several workers: the opportunistic lock keeps a browser's state in the worker that holds
    # its socket (no Redis round trip per push, docs/scale-live.md); Reflex accepts the timings.
    facts = _state_manager_facts(REFLEX_REDIS_URL=REDIS_URL)
    assert facts == {"oplock": True, "hold_ms": 50_000, "lock_ms": 60_000}
    # An operator can still switch it off.
    assert _state_manager_facts(REFLEX_REDIS_URL=REDIS_URL, REFLEX_OPLOCK_ENABLED="false")["oplock"] is False


def test_claim_and_ledger_changes_publish_to_billing_pages_after_commit(monkeypatch, session, clinic, tmp_path):
    from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing

    published: list = []
    monkeypatch.setattr(bus_module, "publish", published.append)
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    claim = claimed_visit(session, clinic)
    claims.export(session, actor=clinic.biller, out_dir=tmp_path)
    ledger.take_payment(session, actor=clinic.reception, patient_id=clinic.patients[0].id, amount="10", method="cash")
    # claimed_visit commits; the export and the payment wait for this caller's commit.
    assert [e.what for e in published if isinstance(e, ClaimsChanged)] == [f"claim {claim.number} created"]
    session.commit()
    assert [e.what for e in published if isinstance(e, ClaimsChanged)] == [
        f"claim {claim.number} created", "1 837P files written", "ledger payment"]
    published.clear()
    with pytest.raises(era.RemittanceRefused):
        era.post(session, actor=clinic.biller, text="not an 835")
    with pytest.raises(Exception, match="cannot become"):
        claims.set_status(session, actor=clinic.biller, claim_id=claim.id, to_status="draft")
    session.commit()
    assert published == []  # a refused change tells no one


def test_a_change_builds_the_visits_card_once_for_every_surface_that_starts_from_it(monkeypatch):
    """The board and the charts both start from the visit's board card: one query per change
    on a worker, not one per surface (and one row per surface, whatever the number of screens)."""
    from clinic_app.live.surfaces import Surface
    from clinic_app.state import live_push

    built: list[str] = []

    def card(event):
        built.append("card")
        return {"id": event.appointment_id}

    def row_a(_event, card):
        built.append("a")
        return card

    def row_b(_event, card):
        built.append("b")
        return card

    reg = Registry()
    monkeypatch.setattr(live_push, "registry", reg)
    surfaces = [Surface("a", lambda e: "t:a", row_a, object, "apply", base=card),
                Surface("b", lambda e: ["t:b1", "t:b2"], row_b, object, "apply", base=card, skip_applied=True)]
    monkeypatch.setattr(live_push, "registered", lambda: surfaces)
    pushed: list[tuple[str, list[str]]] = []

    async def each(surface, tokens, row):
        pushed.append((surface.name, tokens))
        return len(tokens)

    monkeypatch.setattr(live_push, "_each", each)
    for token, topic in [("x", "t:a"), ("y", "t:a"), ("z", "t:b1"), ("w", "t:b2"), ("y", "t:b1")]:
        reg.show(token, token, [topic])
    run_async(live_push.fan_out(dataclasses.replace(EVENT, applied_by="y")))
    assert built == ["card", "a", "b"]
    # The tab that made the change is skipped only where its surface applied it itself.
    assert pushed == [("a", ["x", "y"]), ("b", ["z"]), ("b", ["w"])]


def test_a_change_made_by_a_tab_that_shows_it_already_says_so_on_its_event():
    """The chart that signs a note applies the visit's new card itself; its event names the tab
    so that the chart surface (skip_applied) does not apply the same card to it twice."""
    from clinic_app.live import bus
    from clinic_app.live.surfaces import registered
    from clinic_app.state.chart import ChartState  # noqa: F401  (declares the chart surface)

    with bus.held() as sent, bus.applied_here("tab-1"):
        bus.publish(EVENT)
    with bus.held() as elsewhere:
        bus.publish(EVENT)
    assert sent[0].applied_by == "tab-1" and elsewhere[0].applied_by == ""
    assert decode(sent[0].to_json()) == sent[0]
    chart = next(s for s in registered() if s.name == "chart")
    board = next(s for s in registered() if s.name == "board")
    assert chart.skip_applied and not board.skip_applied  # every board still gets the change
