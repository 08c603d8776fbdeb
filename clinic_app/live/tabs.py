"""Which sign-in session each open browser tab (a Reflex client token) belongs to.

The session gate (state/sessions.py) binds a tab when one of its events passes the session
check. Two readers need it:
- on this worker, ending a session finds that session's tabs and the socket each is on now;
  a live push goes to a tab only on the socket it was bound on (a client token reused on
  another socket gets nothing pushed);
- any worker's ``/_upload`` guard (api/guard.py) lets an upload through only for a tab
  bound to the very session whose cookie came with the upload. With several workers the
  upload may reach another worker than the tab's socket, so this binding is also kept in
  Redis when ``REDIS_URL`` is set.
"""

from __future__ import annotations

import os
import threading

from clinic_app import settings


class Tabs:
    def __init__(self, redis_url: str | None = None) -> None:
        self._lock = threading.Lock()
        self._session_of: dict[str, int] = {}  # client token -> session id
        self._sid_of: dict[str, str] = {}  # client token -> the socket it was bound on
        self._tabs_of: dict[int, set[str]] = {}  # session id -> client tokens
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)

    def _key(self, token: str) -> str:
        return f"{os.environ.get('CLINIC_LIVE_CHANNEL', 'clinic:live')}:tab:{token}"

    def bind(self, token: str, sid: str, session_id: int) -> None:
        """``token``'s events on socket ``sid`` act for session ``session_id``."""
        with self._lock:
            previous = self._session_of.get(token)
            if previous == session_id and self._sid_of.get(token) == sid:
                return
            if previous is not None and previous != session_id:
                self._tabs_of.get(previous, set()).discard(token)
            self._session_of[token] = session_id
            self._sid_of[token] = sid
            self._tabs_of.setdefault(session_id, set()).add(token)
            changed = previous != session_id
        if changed and self._redis is not None:
            self._redis.set(self._key(token), str(session_id), ex=settings.SESSION_HOURS * 3600)

    def hold(self, token: str, sid: str) -> None:
        """A patient portal's tab (no staff session; its own portal session is checked by each
        portal event): live pushes go to it on socket ``sid`` only. A tab bound to a staff
        session keeps that binding."""
        with self._lock:
            if token not in self._session_of:
                self._sid_of[token] = sid

    def unbind(self, token: str) -> None:
        with self._lock:
            previous = self._session_of.pop(token, None)
            self._sid_of.pop(token, None)
            if previous is not None:
                tabs = self._tabs_of.get(previous, set())
                tabs.discard(token)
                if not tabs:
                    self._tabs_of.pop(previous, None)
        if self._redis is not None:
            self._redis.delete(self._key(token))

    def of_session(self, session_id: int) -> list[tuple[str, str]]:
        """The (client token, socket) pairs of ``session_id``'s tabs bound on this worker."""
        with self._lock:
            return [(t, self._sid_of.get(t, "")) for t in self._tabs_of.get(session_id, ())]

    def sid(self, token: str) -> str | None:
        """The socket ``token`` was bound on (on this worker), or None."""
        with self._lock:
            return self._sid_of.get(token)

    def session(self, token: str) -> int | None:
        """The session ``token`` is bound to, on any worker."""
        with self._lock:
            found = self._session_of.get(token)
        if found is not None or self._redis is None:
            return found
        value = self._redis.get(self._key(token))
        return int(value) if value else None


_tabs: Tabs | None = None


def tabs() -> Tabs:
    global _tabs
    if _tabs is None:
        _tabs = Tabs(settings.redis_url())
    return _tabs
