"""Clinic time: stored in UTC, shown and reasoned about in the location's zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinic_app.services.errors import InvalidInput


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, or InvalidInput."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"Unknown time zone {name!r}.") from exc


def day_bounds(day: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where ``day`` starts and ends at a location (DST-aware)."""
    z = zone(tz)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=z)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=z)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def local(moment: dt.datetime, tz: str) -> dt.datetime:
    """``moment`` in the location's zone."""
    return moment.astimezone(zone(tz))


def local_day(moment: dt.datetime, tz: str) -> dt.date:
    """The location's calendar date at ``moment``."""
    return local(moment, tz).date()


def at_local(day: dt.date, hhmm: str, tz: str) -> dt.datetime:
    """The UTC instant of wall-clock ``hhmm`` on ``day`` at a location; InvalidInput if malformed."""
    try:
        hour, minute = (int(part) for part in hhmm.strip().split(":"))
        wall = dt.time(hour, minute)
    except (ValueError, AttributeError) as exc:
        raise InvalidInput(f"Time must look like 09:30, not {hhmm!r}.") from exc
    return dt.datetime.combine(day, wall, tzinfo=zone(tz)).astimezone(dt.UTC)


def parse_day(text: str) -> dt.date:
    """A date from ``YYYY-MM-DD``; InvalidInput otherwise."""
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError as exc:
        raise InvalidInput(f"Date must look like 2026-03-14, not {text!r}.") from exc


def hhmm(moment: dt.datetime, tz: str) -> str:
    """``moment`` as 24-hour wall-clock time at a location, e.g. 09:30."""
    return local(moment, tz).strftime("%H:%M")
