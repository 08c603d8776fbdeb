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

import reflex as rx

from clinic_app.live import get_bus, registry
from clinic_app.live.events import LiveEvent
from clinic_app.live.overlay import live_key, overlays
from clinic_app.live.surfaces import Surface, registered
from clinic_app.live.tabs import tabs
from clinic_app.state import reflex_adapter as rxa

log = logging.getLogger(__name__)


def _connected(token: str) -> bool:
    """Whether ``token``'s socket is held by this worker (with Redis, another may hold it),
    and is the socket the tab's session was checked on (state/sessions.py): an ended
    session's tab is unbound, and a client token reused on another socket gets nothing."""
    sid = rxa.held_socket(token)
    return bool(sid) and tabs().sid(token) == sid


async def fan_out(event: LiveEvent) -> int:
    """Push ``event`` to every registered screen that shows it; returns how many got it."""
    pushed = 0
    cache: dict[object, object] = {}
    async with _order():
        for surface in registered():
            if not isinstance(event, surface.event_type):
                continue
            topics = surface.topic(event)
            for topic in [topics] if isinstance(topics, str) else topics:
                pushed += await _push(surface, topic, event, cache)
    return pushed


async def _push(surface: Surface, topic: str, event: LiveEvent, cache: dict) -> int:
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
        if surface.base is not None:
            if surface.base not in cache:
                cache[surface.base] = await asyncio.to_thread(surface.base, event)
            args += (cache[surface.base],)
        cache[key] = await asyncio.to_thread(surface.build, *args)
    row = cache[key]
    if not surface.shared:
        if surface.skip_applied and getattr(event, "applied_by", ""):
            tokens = [token for token in tokens if token != event.applied_by]
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
            async with rxa.state_of(token, surface.state) as state:
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


async def _broadcast(surface: Surface, topic: str, row: dict) -> int:
    """Send the changed visit's row to every board in view of the topic: encoded once, then
    queued on each socket in turn (socket.io's own room emit makes and awaits a task per
    socket, which measured as much again as the writes)."""
    pushed = 0
    message = None
    for room, topics in list(_room_topics.items()):
        if topic not in topics:
            continue
        members = rxa.room_members(room)
        if not members:
            del _room_topics[room]
            continue
        if message is None:  # each row under its own ``live:<id>`` key of the board's state object
            message = rxa.delta_packet(surface.state, {live_key(row["id"]): row})
        for eio_sid in members:
            await rxa.send(eio_sid, message)
        pushed += len(members)
    await asyncio.sleep(0)  # let the sockets' writers flush
    return pushed


def join(state: rx.State, topics: list[str]) -> None:
    """A board that loaded ``topics`` joins their room and gets their overlay as it is now.

    Called by the board's own event after its load has reached the browser (its cards).
    The joining runs as a task under the push lock, not inside the event: the event holds
    the board's state, which a per-board push waits for while holding the push lock. So any
    push after the joining reaches the room, and nothing older follows it."""
    if not rxa.running():
        return
    task = asyncio.create_task(_join(rxa.client_token(state), rxa.socket_id(state), type(state), topics))
    _joining.add(task)
    task.add_done_callback(_joining.discard)


_joining: set[asyncio.Task] = set()


async def _join(token: str, sid: str, state: type[rx.State], topics: list[str]) -> None:
    room = _room(topics)
    async with _order():
        if not set(topics) <= registry.topics_of(token):
            return  # signed out, gone or shown something else since the load
        previous = _room_of.get(token)
        if previous is not None and previous != (sid, room):
            await rxa.leave_room(previous[0], previous[1])
        await rxa.enter_room(sid, room)
        _room_of[token] = (sid, room)
        _room_topics[room] = tuple(sorted(topics))
        await rxa.send_delta(sid, state, overlays.union(topics))
        for shown in overlays.topics():  # days no board on this worker shows any more
            if not registry.tokens(shown):
                overlays.drop(shown)


async def forget(token: str) -> None:
    """``token`` signed out or is gone: no more pushes of any kind."""
    registry.forget(token)
    previous = _room_of.pop(token, None)
    if previous is not None:
        await rxa.leave_room(*previous)


async def listen() -> None:
    """The worker's listener: runs for the app's lifetime."""
    async for event in get_bus().listen():
        try:
            await fan_out(event)
        except Exception:
            log.exception("live fan-out failed for %s", event)


def install(app: rx.App) -> None:
    """Start the listener with the app."""
    rxa.install(app)
    app.register_lifespan_task(listen)
