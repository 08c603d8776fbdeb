"""Per worker: the live status overlay that every board of a topic shares.

A check-in or a signature changes one card's status and nothing else about it. Every
board showing that location's day then needs the same few bytes, so the worker keeps,
per board topic in view, the newest status of each visit that changed since the topic
came into view, and sends that overlay to all those boards as one pre-encoded message
(state/live_push.py). A board shows ``overlay.get(card, card.status)``.

Invariant: an entry is the newest status the worker has seen for that visit, whatever the
kind of change (moves and cancellations too). So an entry never shows an older status
than the cards a board loaded, and a board that holds any version of the overlay shows
each visit's status correctly or as it was a moment ago.

A change that is not a status change in place (a new, moved, resized or released card, or
a card this worker has not seen) goes the per-board way, and so does the change that
finds a topic's overlay full: then each board folds the overlay into its cards and the
topic's overlay starts empty.
"""

from __future__ import annotations

import threading

# What a board card shows besides its status (the rows of services.board.card).
PLACEMENT = (
    "provider_id", "day", "start_minute", "end_minute", "room_id", "room_name", "type_name", "color",
    "patient_name", "start_label", "end_label", "duration", "auth_warning", "in_series",
)
# A card with one of these statuses frees its slot: a change to or from one moves slots.
RELEASED = frozenset({"cancelled", "no_show"})
MAX_ENTRIES = 60  # past this many changed visits, a topic's overlay is folded into the cards


def placement(row: dict) -> tuple:
    """Everything about a card but its status (equal before and after a status change in place)."""
    return (*(row.get(name) for name in PLACEMENT), row["status"] in RELEASED)


class BoardOverlays:
    """topic -> the newest status and label of each visit changed since the topic came into view,
    and topic -> where each card this worker knows sits."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self.limit = limit
        self._status: dict[str, dict[str, tuple[str, str]]] = {}
        self._known: dict[str, dict[int, tuple]] = {}
        self._lock = threading.Lock()

    def seed(self, topic: str, rows: list[dict]) -> None:
        """A board loaded ``rows`` for ``topic``: learn where the cards sit (not overwriting what a
        newer change told)."""
        with self._lock:
            known = self._known.setdefault(topic, {})
            self._status.setdefault(topic, {})
            for row in rows:
                known.setdefault(row["id"], placement(row))

    def observe(self, topic: str, row: dict) -> bool:
        """Record a changed card; True when it only changed status, in a place every board knows."""
        with self._lock:
            known = self._known.setdefault(topic, {})
            before = known.get(row["id"])
            after = placement(row)
            known[row["id"]] = after
            self._set(topic, row)
            return before == after

    def note_status(self, topic: str, row: dict) -> None:
        """The newest status of a visit a desk changed itself, before the bus brings the change
        back (where the card sits is left to that push to compare)."""
        with self._lock:
            self._set(topic, row)

    def _set(self, topic: str, row: dict) -> None:
        """One entry per visit across topics: a card moved to another day keeps no older status
        under the day it left, which a week board showing both days could otherwise show."""
        key = str(row["id"])
        for other, held in self._status.items():
            if other != topic:
                held.pop(key, None)
        self._status.setdefault(topic, {})[key] = (row["status"], row["status_label"])

    def full(self, topic: str) -> bool:
        with self._lock:
            return len(self._status.get(topic, ())) >= self.limit

    def fold(self, topic: str) -> dict[str, tuple[str, str]]:
        """Empty ``topic``'s overlay; returns what it held (for the boards to fold into their cards)."""
        with self._lock:
            held = self._status.get(topic, {})
            self._status[topic] = {}
            return held

    def union(self, topics) -> tuple[dict[str, str], dict[str, str]]:
        """The overlay of a board showing ``topics``: status by visit, label by visit."""
        status: dict[str, str] = {}
        label: dict[str, str] = {}
        with self._lock:
            for topic in topics:
                for key, (value, words) in self._status.get(topic, {}).items():
                    status[key], label[key] = value, words
        return status, label

    def drop(self, topic: str) -> None:
        """Nobody on this worker shows ``topic`` any more."""
        with self._lock:
            self._status.pop(topic, None)
            self._known.pop(topic, None)

    def topics(self) -> list[str]:
        with self._lock:
            return list(self._status)


overlays = BoardOverlays()
