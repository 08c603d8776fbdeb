"""Small pieces every surface state uses: today's date and option lists."""

from __future__ import annotations

import dataclasses
import datetime as dt

from clinic_app.db import utcnow
from clinic_app.services.clock import local_day


@dataclasses.dataclass
class Option:
    """An entry of a select: the value sent back and the words shown."""

    value: str
    label: str


def today_at(tz: str) -> dt.date:
    """Today's date at a location."""
    return local_day(utcnow(), tz)


def money(cents: int) -> str:
    """Cents as dollars for display, e.g. 1,234.50."""
    return f"{cents / 100:,.2f}"
