"""Small pieces every surface state uses: today's date and option lists."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from sqlmodel import Session

from clinic_app.db import session_scope, utcnow
from clinic_app.services.platform.clock import local_day

T = TypeVar("T")


@dataclasses.dataclass
class Option:
    """An entry of a select: the value sent back and the words shown."""

    value: str
    label: str


def today_at(tz: str) -> dt.date:
    """Today's date at a location."""
    return local_day(utcnow(), tz)




async def in_db(work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in its own transaction on a worker thread.

    Event handlers and the live fan-out share one event loop per worker: a query, or a
    wait for SQLite's write lock, must not stall every other socket meanwhile.
    """

    def run() -> T:
        with session_scope() as session:
            return work(session)

    return await asyncio.to_thread(run)
