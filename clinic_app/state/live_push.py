"""Step 3 of the live spine: a bus event becomes a push to every screen that shows it.

Each worker runs one listener (a lifespan task). For an event it builds each
surface's changed row once, then updates the state of every client registered for
that surface's topic, one after another in registration order (measured faster at
the median than gathering them all, REFLEX.md), and Reflex sends each its delta.
Only clients whose socket this worker holds are registered here, so with several
workers each one pushes to its own browsers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import reflex as rx

from clinic_app.db import session_scope
from clinic_app.live import AppointmentChanged, get_bus, registry
from clinic_app.live.events import KPI_PREFIX, billing_topic, board_topic, chart_topic
from clinic_app.services import billing, board, kpi

log = logging.getLogger(__name__)
_app: rx.App | None = None


@dataclass(frozen=True)
class Surface:
    """A kind of screen: its topics for an event, the row it needs, the state it updates."""

    name: str
    topic: Callable[[AppointmentChanged], str | list[str]]
    build: Callable[..., object]  # build(event), or build(event, topic) when per_topic
    state: type[rx.State]
    apply: str  # the state's method that takes the built row
    per_topic: bool = False  # one row per topic (a KPI range and filters), not one per event


def _card(event: AppointmentChanged) -> dict:
    with session_scope() as session:
        return board.card(session, appointment_id=event.appointment_id)


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


def _kpis(_event: AppointmentChanged, topic: str) -> dict:
    # Once per event and distinct set of filters on this worker, whatever the number of screens.
    with session_scope() as session:
        return kpi.compute_range_kpis(session, kpi.KpiFilters.from_key(topic.removeprefix(KPI_PREFIX)))


_surfaces: list[Surface] = []


def surfaces() -> list[Surface]:
    """The surfaces, built on first use (the states import this module)."""
    if not _surfaces:
        from clinic_app.state.billing import BillingQueueState
        from clinic_app.state.calendar import CalendarState
        from clinic_app.state.chart import ChartState
        from clinic_app.state.kpi import KpiState

        _surfaces.extend(
            [
                Surface("board", lambda e: board_topic(e.location_id, e.day), _card, CalendarState, "apply_card"),
                Surface("chart", lambda e: chart_topic(e.provider_id, e.day), _card, ChartState, "apply_card"),
                Surface("billing", lambda e: billing_topic(e.location_id), _queue_row, BillingQueueState, "apply_row"),
                Surface("kpi", _kpi_topics, _kpis, KpiState, "apply_kpis", per_topic=True),
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
    return record is not None and record.instance_id == manager.instance_id


async def fan_out(event: AppointmentChanged) -> int:
    """Push ``event`` to every registered screen that shows it; returns how many got it."""
    pushed = 0
    cache: dict[object, object] = {}
    for surface in surfaces():
        topics = surface.topic(event)
        for topic in [topics] if isinstance(topics, str) else topics:
            pushed += await _push(surface, topic, event, cache)
    return pushed


async def _push(surface: Surface, topic: str, event: AppointmentChanged, cache: dict) -> int:
    pushed = 0
    tokens = registry.tokens(topic)
    if tokens:
        key = (surface.build, topic) if surface.per_topic else surface.build
        if key not in cache:
            # One query per event and surface (per topic for KPI ranges), whatever the number
            # of screens; off the event loop so that other sockets are not held up by the database.
            args = (event, topic) if surface.per_topic else (event,)
            cache[key] = await asyncio.to_thread(surface.build, *args)
        row = cache[key]
        for token in tokens:
            if not _connected(token):
                registry.forget(token)
                continue
            try:
                async with _app.modify_state(rx.BaseStateToken(ident=token, cls=surface.state)) as root:
                    state = await root.get_state(surface.state)
                    getattr(state, surface.apply)(row)
                pushed += 1
            except Exception:
                log.exception("live push to one client failed; dropping it from the registry")
                registry.forget(token)
    return pushed


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
