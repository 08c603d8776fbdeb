"""The live spine: domain events, the bus that carries them, the screen registry."""

from clinic_app.live.bus import get_bus, publish, publish_on_commit
from clinic_app.live.events import AppointmentChanged, ClaimsChanged
from clinic_app.live.registry import registry

__all__ = ["AppointmentChanged", "ClaimsChanged", "get_bus", "publish", "publish_on_commit", "registry"]
