"""Which connected screen shows what: the one place that knows, per worker.

A screen registers its topics when it loads (a board: its location and day) and is
dropped when it leaves or its socket is gone. Each worker keeps its own registry of
the browsers whose sockets it holds, so that a bus message is fanned out by the
worker that can reach each browser directly.
"""

from __future__ import annotations

import threading


class Registry:
    """topic -> client tokens, in the order they registered (first come, first pushed)."""

    def __init__(self) -> None:
        self._by_topic: dict[str, dict[str, None]] = {}
        self._by_token: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def show(self, token: str, surface: str, topics: list[str]) -> None:
        """``token``'s ``surface`` now shows ``topics`` (replacing what it showed before)."""
        with self._lock:
            prefix = surface + ":"
            for topic in [t for t in self._by_token.get(token, ()) if t.startswith(prefix)]:
                self._remove(token, topic)
            for topic in topics:
                self._by_topic.setdefault(topic, {})[token] = None
                self._by_token.setdefault(token, set()).add(topic)

    def forget(self, token: str) -> None:
        """Drop ``token`` from every topic (it disconnected or signed out)."""
        with self._lock:
            for topic in list(self._by_token.get(token, ())):
                self._remove(token, topic)
            self._by_token.pop(token, None)

    def _remove(self, token: str, topic: str) -> None:
        tokens = self._by_topic.get(topic)
        if tokens is not None:
            tokens.pop(token, None)
            if not tokens:
                del self._by_topic[topic]
        self._by_token.get(token, set()).discard(topic)

    def tokens(self, topic: str) -> list[str]:
        """The tokens showing ``topic``, oldest first."""
        with self._lock:
            return list(self._by_topic.get(topic, ()))

    def topics_with_prefix(self, prefix: str) -> list[str]:
        """The topics someone shows that start with ``prefix`` (e.g. every KPI range in view)."""
        with self._lock:
            return [t for t in self._by_topic if t.startswith(prefix)]

    def topics_of(self, token: str) -> set[str]:
        with self._lock:
            return set(self._by_token.get(token, ()))

    def count(self) -> int:
        with self._lock:
            return len(self._by_token)


registry = Registry()
