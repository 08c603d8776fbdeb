"""The live bus and registry: in-process and across processes over Redis."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid

import pytest

from clinic_app.live.bus import InProcessBus, RedisBus
from clinic_app.live.events import CLAIMS_TOPIC, AppointmentChanged, ClaimsChanged, decode
from clinic_app.live.registry import Registry
from clinic_app.services import charting, claims, era, ledger, scheduling
from tests.services.helpers import charted_note

REDIS_URL = os.environ.get("CLINIC_TEST_REDIS", "redis://127.0.0.1:6379/0")
EVENT = AppointmentChanged(appointment_id=7, location_id=1, provider_id=2, day="2030-03-12", status="ready_to_bill")


def test_event_topics_cover_every_screen_that_shows_the_visit():
    assert EVENT.topics() == ["board:1:2030-03-12", "chart:2:2030-03-12", "billing:1", "kpi:1:2030-03-12"]
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
    reg.show("a", "kpi", ["kpi:1:2030-03-12"])
    assert reg.tokens("board:1:2030-03-12") == ["a", "b"]
    reg.show("a", "board", ["board:1:2030-03-13"])  # a moved to the next day
    assert reg.tokens("board:1:2030-03-12") == ["b"]
    assert reg.topics_of("a") == {"board:1:2030-03-13", "kpi:1:2030-03-12"}
    reg.forget("a")
    assert reg.tokens("kpi:1:2030-03-12") == [] and reg.count() == 1


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
    monkeypatch.setattr(scheduling, "publish", published.append)
    appt, note = charted_note(session, clinic)
    published.clear()
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    assert [(e.appointment_id, e.status, e.day, e.location_id) for e in published] == [
        (appt.id, "ready_to_bill", "2030-03-12", clinic.location.id)
    ]


@pytest.mark.parametrize("target", ["arrived", "cancelled"])
def test_a_refused_change_publishes_nothing(monkeypatch, session, clinic, target):
    published: list[AppointmentChanged] = []
    monkeypatch.setattr(scheduling, "publish", published.append)
    appt, _ = charted_note(session, clinic)
    published.clear()
    with pytest.raises(Exception, match="cannot become"):
        scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status=target)
    assert published == []


def test_claim_and_ledger_changes_publish_to_billing_pages_after_commit(monkeypatch, session, clinic, tmp_path):
    from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing

    published: list = []
    monkeypatch.setattr(claims, "publish", published.append)
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    claim = claimed_visit(session, clinic)
    claims.export(session, actor=clinic.biller, out_dir=tmp_path)
    ledger.take_payment(session, actor=clinic.reception, patient_id=clinic.patients[0].id, amount="10", method="cash")
    assert [e.what for e in published if isinstance(e, ClaimsChanged)] == [
        f"claim {claim.number} created", "1 837P files written", "ledger payment"]
    published.clear()
    with pytest.raises(era.RemittanceRefused):
        era.post(session, actor=clinic.biller, text="not an 835")
    with pytest.raises(Exception, match="cannot become"):
        claims.set_status(session, actor=clinic.biller, claim_id=claim.id, to_status="draft")
    assert published == []  # a refused change tells no one
