"""Clinic time: stored in UTC, shown and reasoned about in the location's zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinic_app.services.platform.errors import InvalidInput


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


def parse_time(text: str) -> str:
    """A wall-clock time typed at the desk as 24-hour ``HH:MM`` (the board's format); also
    takes ``930``/``0930``, ``9:30`` and ``2:30 pm``. InvalidInput names the format otherwise."""
    raw = (text or "").strip().lower().replace(".", "")
    suffix = ""
    for mark in ("am", "pm"):
        if raw.endswith(mark):
            raw, suffix = raw[: -len(mark)].strip(), mark
    try:
        if ":" in raw:
            hour_text, minute_text = raw.split(":", 1)
        elif raw.isdigit() and len(raw) in (3, 4):
            hour_text, minute_text = raw[:-2], raw[-2:]
        elif raw.isdigit() and suffix:
            hour_text, minute_text = raw, "0"
        else:
            raise ValueError(raw)
        hour, minute = int(hour_text), int(minute_text)
        if suffix:
            if not 1 <= hour <= 12:
                raise ValueError(raw)
            hour = hour % 12 + (12 if suffix == "pm" else 0)
        wall = dt.time(hour, minute)
    except ValueError as exc:
        raise InvalidInput(f"Enter the time as HH:MM, 24-hour (e.g. 14:30), not {text!r}.") from exc
    return f"{wall:%H:%M}"


def hhmm_minute(minute: int) -> str:
    """A minute of the day as 24-hour wall-clock time, e.g. 570 -> 09:30."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_day(text: str) -> dt.date:
    """A date from ``YYYY-MM-DD``; InvalidInput otherwise."""
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError as exc:
        raise InvalidInput(f"Date must look like 2026-03-14, not {text!r}.") from exc


def hhmm(moment: dt.datetime, tz: str) -> str:
    """``moment`` as 24-hour wall-clock time at a location, e.g. 09:30."""
    return local(moment, tz).strftime("%H:%M")
