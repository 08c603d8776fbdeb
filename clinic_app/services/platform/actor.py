"""Who is acting: passed to every service that reads or changes PHI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A signed-in member of staff, as services see them."""

    user_id: int
    role: str
    name: str
    provider_id: int | None = None
    location_id: int | None = None
    source: str = ""
