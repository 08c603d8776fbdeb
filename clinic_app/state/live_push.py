"""Step 3 of the live spine: a bus event becomes a push to every screen that shows it.

Each worker runs one listener (a lifespan task). For an event it builds each
surface's changed row once, then updates the state of every client registered for
that surface's topic, one after another in registration order (measured faster at
the median than gathering them all, REFLEX.md), and Reflex sends each its delta.
Only clients whose socket this worker holds are registered here, so with several
workers each one pushes to its own browsers.

Boards take a shorter way for every change (a check-in, a signature, a move, a booking, a
cancellation): the worker records the visit's newest row in the topic's shared overlay
(live/overlay.py) and writes the same pre-encoded delta, that one row, on the socket of
every board in view of the topic, without touching the boards' states; each browser
places the row in its own view. One lock orders all of a worker's pushes and a board's
joining of its room, so that a socket never gets an older row after a newer one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import reflex as rx
from engineio import packet as engineio_packet
from reflex.constants import SocketEvent
from socketio import packet as socketio_packet

from clinic_app.db import session_scope
from clinic_app.live import AppointmentChanged, ClaimsChanged, get_bus, registry
from clinic_app.live.events import CLAIMS_TOPIC, KPI_PREFIX, billing_topic, board_topic
from clinic_app.live.overlay import live_key, overlays
from clinic_app.live.tabs import tabs
from clinic_app.services.frontdesk import board
from clinic_app.services.kpi import kpi
from clinic_app.services.platform.actor import Actor
from clinic_app.services.revenue import billing

log = logging.getLogger(__name__)
_app: rx.App | None = None


@dataclass(frozen=True)
class Surface:
    """A kind of screen: its topics for an event, the row it needs, the state it updates."""

    name: str
    topic: Callable[[AppointmentChanged], str | list[str]]
    build: Callable[..., object]  # build(event), or build(event, topic) when per_topic
    state: type[rx.State]
    apply: str  # the state's method that takes the built row (none for a shared surface)
    per_topic: bool = False  # one row per topic (a KPI range and filters), not one per event
    event_type: type = AppointmentChanged  # the events this surface shows
    shared: bool = False  # every change goes to the topic's shared overlay, one delta for all (boards)


def _card(event: AppointmentChanged) -> dict:
    with session_scope() as session:
        return board.card(session, appointment_id=event.appointment_id)


def _board_row(event: AppointmentChanged) -> dict:
    """What a board draws of the changed visit (the browser places it)."""
    return board.client_row(_card(event))


def _queue_row(event: AppointmentChanged) -> dict | None:
    with session_scope() as session:
        return billing.queue_row(session, appointment_id=event.appointment_id)


def _kpi_topics(event: AppointmentChanged) -> list[str]:
    """The KPI dashboards in view on this worker whose range and filters hold the visit."""
    topics = []
    for topic in registry.topics_with_prefix(KPI_PREFIX):
        try:
            filters = kpi.KpiFilters.from_key(topic.removeprefix(KPI_PREFIX))
        except ValueError:  # not a range this version writes: never let it stop the other pushes
            continue
        if filters.covers(location_id=event.location_id, provider_id=event.provider_id, day=event.day):
            topics.append(topic)
    return topics


def _all_kpi_topics(_event: ClaimsChanged) -> list[str]:
    """Payments, claims and remittances move the money tiles of any range: every dashboard in view."""
    return [t for t in registry.topics_with_prefix(KPI_PREFIX) if _filters_of(t) is not None]


def _filters_of(topic: str):
    try:
        return kpi.KpiFilters.from_key(topic.removeprefix(KPI_PREFIX))
    except ValueError:
        return None


def _kpis(_event: AppointmentChanged | ClaimsChanged, topic: str) -> dict:
    # Once per event and distinct set of filters on this worker, whatever the number of screens.
    with session_scope() as session:
        return kpi.compute_range_kpis(session, kpi.KpiFilters.from_key(topic.removeprefix(KPI_PREFIX)))


# Builds the claim sections once per event for every biller's screen; only screens that
# passed the billing.view check register for them (BillingQueueState._refresh).
_PUSH_READER = Actor(user_id=0, role="biller", name="live push")


def _claim_sections(event: ClaimsChanged) -> dict:
    from clinic_app.state.billing import claim_sections

    with session_scope() as session:
        return claim_sections(session, actor=_PUSH_READER)


_surfaces: list[Surface] = []


def surfaces() -> list[Surface]:
    """The surfaces, built on first use (the states import this module)."""
    if not _surfaces:
        from clinic_app.state.billing import BillingQueueState
        from clinic_app.state.calendar import CalendarState
        from clinic_app.state.chart import ChartState, live_row, live_topics
        from clinic_app.state.kpi import KpiState

        _surfaces.extend(
            [
                Surface("board", lambda e: board_topic(e.location_id, e.day), _board_row, CalendarState, "", shared=True),
                Surface("chart", live_topics, live_row, ChartState, "apply_card"),
                Surface("billing", lambda e: billing_topic(e.location_id), _queue_row, BillingQueueState, "apply_row"),
                Surface("kpi", _kpi_topics, _kpis, KpiState, "apply_kpis", per_topic=True),
                Surface("billing_claims", lambda e: CLAIMS_TOPIC, _claim_sections, BillingQueueState, "apply_claims",
                        event_type=ClaimsChanged),
                Surface("kpi_money", _all_kpi_topics, _kpis, KpiState, "apply_kpis", per_topic=True, event_type=ClaimsChanged),
            ]
        )
    return _surfaces


def _connected(token: str) -> bool:
    """Whether ``token``'s socket is held by this worker (with Redis, another may hold it)."""
    namespace = _app.event_namespace if _app else None
    if not namespace:
        return False
    manager = namespace._token_manager
    record = manager.token_to_socket.get(token)
    # Only to the socket the tab's session was checked on (state/sessions.py): an ended
    # session's tab is unbound, and a client token reused on another socket gets nothing.
    return record is not None and record.instance_id == manager.instance_id and tabs().sid(token) == record.sid


async def fan_out(event: AppointmentChanged | ClaimsChanged) -> int:
    """Push ``event`` to every registered screen that shows it; returns how many got it."""
    pushed = 0
    cache: dict[object, object] = {}
    async with _order():
        for surface in surfaces():
            if not isinstance(event, surface.event_type):
                continue
            topics = surface.topic(event)
            for topic in [topics] if isinstance(topics, str) else topics:
                pushed += await _push(surface, topic, event, cache)
    return pushed


async def _push(surface: Surface, topic: str, event: AppointmentChanged | ClaimsChanged, cache: dict) -> int:
    tokens = registry.tokens(topic)
    if not tokens:
        if surface.shared:
            overlays.drop(topic)
        return 0
    key = (surface.build, topic) if surface.per_topic else surface.build
    if key not in cache:
        # One query per event and surface (per topic for KPI ranges), whatever the number
        # of screens; off the event loop so that other sockets are not held up by the database.
        args = (event, topic) if surface.per_topic else (event,)
        cache[key] = await asyncio.to_thread(surface.build, *args)
    row = cache[key]
    if not surface.shared:
        return await _each(surface, tokens, row)
    stamped = overlays.record(topic, row)
    return await _broadcast(surface, topic, stamped) if stamped is not None else 0


async def _each(surface: Surface, tokens: list[str], *args) -> int:
    """The per-board way: update each client's state; Reflex sends each its own delta."""
    pushed = 0
    for token in tokens:
        if not _connected(token):
            await forget(token)
            continue
        try:
            async with _app.modify_state(rx.BaseStateToken(ident=token, cls=surface.state)) as root:
                state = await root.get_state(surface.state)
                getattr(state, surface.apply)(*args)
            pushed += 1
        except Exception:
            log.exception("live push to one client failed; dropping it from the registry")
            await forget(token)
    return pushed


# -- the shared overlay's rooms: one socket.io room per set of board topics ----------------
_lock: asyncio.Lock | None = None
_room_of: dict[str, tuple[str, str]] = {}  # token -> (socket id, room)
_room_topics: dict[str, tuple[str, ...]] = {}  # room -> the topics its boards show


def _order() -> asyncio.Lock:
    global _lock
    if _lock is None:
        _lock = asyncio.Lock()
    return _lock


def _room(topics: list[str]) -> str:
    return "overlay:" + "|".join(sorted(topics))


def _overlay_update(state: type[rx.State], rows: dict[str, dict]) -> dict:
    """The delta a board's browser applies: each row under its own ``live:<id>`` key of the
    board's state object (the keys it does not name keep their rows)."""
    return {"delta": {state.get_full_name(): rows}}


async def _broadcast(surface: Surface, topic: str, row: dict) -> int:
    """Send the changed visit's row to every board in view of the topic: encoded once, then
    queued on each socket in turn (socket.io's own room emit makes and awaits a task per
    socket, which measured as much again as the writes)."""
    namespace = _app.event_namespace
    server = namespace.server
    pushed = 0
    message = None
    for room, topics in list(_room_topics.items()):
        if topic not in topics:
            continue
        members = [eio_sid for _sid, eio_sid in server.manager.get_participants(namespace.namespace, room)]
        if not members:
            del _room_topics[room]
            continue
        if message is None:
            data = [str(SocketEvent.EVENT), _overlay_update(surface.state, {live_key(row["id"]): row})]
            encoded = server.packet_class(socketio_packet.EVENT, namespace=namespace.namespace, data=data).encode()
            message = engineio_packet.Packet(engineio_packet.MESSAGE, encoded)
        for eio_sid in members:
            await server.eio.send_packet(eio_sid, message)
        pushed += len(members)
    await asyncio.sleep(0)  # let the sockets' writers flush
    return pushed


def join(state: rx.State, topics: list[str]) -> None:
    """A board that loaded ``topics`` joins their room and gets their overlay as it is now.

    Called by the board's own event after its load has reached the browser (its cards).
    The joining runs as a task under the push lock, not inside the event: the event holds
    the board's state, which a per-board push waits for while holding the push lock. So any
    push after the joining reaches the room, and nothing older follows it."""
    if _app is None or _app.event_namespace is None:
        return
    task = asyncio.create_task(_join(client_token(state), state.router.session.session_id, type(state), topics))
    _joining.add(task)
    task.add_done_callback(_joining.discard)


_joining: set[asyncio.Task] = set()


async def _join(token: str, sid: str, state: type[rx.State], topics: list[str]) -> None:
    namespace = _app.event_namespace
    room = _room(topics)
    async with _order():
        if not set(topics) <= registry.topics_of(token):
            return  # signed out, gone or shown something else since the load
        previous = _room_of.get(token)
        if previous is not None and previous != (sid, room):
            await namespace.leave_room(previous[0], previous[1])
        await namespace.enter_room(sid, room)
        _room_of[token] = (sid, room)
        _room_topics[room] = tuple(sorted(topics))
        await namespace.emit(str(SocketEvent.EVENT), _overlay_update(state, overlays.union(topics)), to=sid)
        for shown in overlays.topics():  # days no board on this worker shows any more
            if not registry.tokens(shown):
                overlays.drop(shown)


async def forget(token: str) -> None:
    """``token`` signed out or is gone: no more pushes of any kind."""
    registry.forget(token)
    previous = _room_of.pop(token, None)
    if previous is not None and _app is not None and _app.event_namespace is not None:
        await _app.event_namespace.leave_room(*previous)


async def listen() -> None:
    """The worker's listener: runs for the app's lifetime."""
    async for event in get_bus().listen():
        try:
            await fan_out(event)
        except Exception:
            log.exception("live fan-out failed for %s", event)


def install(app: rx.App) -> None:
    """Start the listener with the app."""
    global _app
    _app = app
    app.register_lifespan_task(listen)


def client_token(state: rx.State) -> str:
    """The browser tab's token, the key the registry and modify_state use."""
    return state.router.session.client_token
