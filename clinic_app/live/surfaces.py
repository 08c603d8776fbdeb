"""What each kind of screen shows live: declared by the screen's own state module.

A screen state module registers its surface when it is imported (``register``): the topics
an event concerns, how to build the changed row once per worker, and the state method that
applies it. The push layer (state/live_push.py) walks the registered surfaces; it imports no
screen, so a new screen (the task inbox, the portal) adds its surface in its own module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clinic_app.live.events import AppointmentChanged


@dataclass(frozen=True)
class Surface:
    """A kind of screen: its topics for an event, the row it needs, the state it updates."""

    name: str
    topic: Callable[..., str | list[str]]  # topic(event): the topics of screens that show it
    build: Callable[..., object]  # build(event), or build(event, topic) when per_topic; + base's row
    state: type  # the Reflex state class that shows it
    apply: str  # the state's method that takes the built row (none for a shared surface)
    per_topic: bool = False  # one row per topic (a KPI range and filters), not one per event
    event_type: type = AppointmentChanged  # the events this surface shows
    shared: bool = False  # every change goes to the topic's shared overlay, one delta for all (boards)
    # A row several surfaces start from (the visit's board card): built once per change on
    # each worker and handed to ``build`` as its last argument.
    base: Callable[..., object] | None = None
    # The tab that made the change has applied it already (the event's ``applied_by``): no push to it.
    skip_applied: bool = False


_surfaces: dict[str, Surface] = {}


def register(surface: Surface) -> Surface:
    """Declare ``surface`` (a module imported twice registers once: by name)."""
    _surfaces[surface.name] = surface
    return surface


def registered() -> list[Surface]:
    """Every declared surface: the shared ones (boards, one delta for all) first, then in the
    order their modules declared them."""
    return sorted(_surfaces.values(), key=lambda surface: not surface.shared)
