"""Per worker: the live overlay that every board of a topic shares.

A board loads its cards once (the rows of its days, from the database) and places them in
its own view in the browser. Every later change of a visit it shows (a check-in, a
signature, a move, a booking, a cancellation) reaches it as that one visit's newest row,
the same few hundred bytes for every board of the topic, encoded once and written on each
board's socket (state/live_push.py); no board's state on the server is touched.

In the browser each pushed row lands under its own key, ``live:<id>``, of the board's
state object (a Reflex delta sets the keys it names and keeps the others), so the rows
accumulate there and the board draws, for each visit, its loaded row or the newest pushed
one. Each row carries a stamp from this worker's clock (microseconds, strictly
increasing); a board keeps the stamp taken just before it read its cards (``live_since``)
and ignores pushed rows stamped before it, which its cards already include.

The worker keeps, per topic in view, the newest row of every visit changed since the topic
came into view, so that a board joining the topic gets them all at once. It is bounded by
the visits of the topic's day, and dropped when no board on this worker shows the topic.
"""

from __future__ import annotations

import threading
import time

LIVE_PREFIX = "live:"


def live_key(appointment_id: int) -> str:
    """The key of a visit's pushed row in a board's state object."""
    return f"{LIVE_PREFIX}{appointment_id}"


class BoardOverlays:
    """topic -> the newest row of each visit changed since the topic came into view, stamped."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, dict]] = {}
        self._lock = threading.Lock()
        self._last = 0

    def stamp(self) -> int:
        """A stamp later than every row recorded so far (microseconds of this worker's clock)."""
        with self._lock:
            return self._next()

    def _next(self) -> int:
        self._last = max(self._last + 1, time.time_ns() // 1000)
        return self._last

    def record(self, topic: str, row: dict) -> dict | None:
        """A visit of ``topic`` changed: keep its newest row, stamped; returns the stamped row, or
        None when the topic's boards have that very row already (a move between two providers of
        one day is published for each provider's list; the board needs it once)."""
        with self._lock:
            held = self._rows.setdefault(topic, {})
            key = live_key(row["id"])
            if key in held and {k: v for k, v in held[key].items() if k != "seq"} == row:
                return None
            stamped = {**row, "seq": self._next()}
            held[key] = stamped
            return stamped

    def union(self, topics) -> dict[str, dict]:
        """The rows a board showing ``topics`` is sent when it joins: the newest of each visit."""
        merged: dict[str, dict] = {}
        with self._lock:
            for topic in topics:
                for key, row in self._rows.get(topic, {}).items():
                    if key not in merged or merged[key]["seq"] < row["seq"]:
                        merged[key] = row
        return merged

    def size(self, topic: str) -> int:
        with self._lock:
            return len(self._rows.get(topic, ()))

    def drop(self, topic: str) -> None:
        """Nobody on this worker shows ``topic`` any more."""
        with self._lock:
            self._rows.pop(topic, None)

    def topics(self) -> list[str]:
        with self._lock:
            return list(self._rows)


overlays = BoardOverlays()
