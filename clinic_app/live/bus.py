"""The live bus: services publish after commit; each worker's listener fans out.

Two implementations behind one interface, chosen by configuration:
- InProcessBus: one worker, no Redis; an asyncio queue per listener.
- RedisBus: several workers; one Redis pub/sub channel that every worker listens to,
  so each worker pushes to the browsers it holds.
``publish`` is synchronous and cheap so that plain (sync) services can call it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

from sqlalchemy import event
from sqlmodel import Session

from clinic_app import settings
from clinic_app.live.events import LiveEvent, decode

log = logging.getLogger(__name__)
# One channel per clinic app; CLINIC_LIVE_CHANNEL keeps two apps on one Redis apart (tests).
CHANNEL = os.environ.get("CLINIC_LIVE_CHANNEL", "clinic:live")


class InProcessBus:
    """Fan-out inside one process. Publishing with nobody listening is a no-op."""

    def __init__(self) -> None:
        self._listeners: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        self._lock = threading.Lock()

    def publish(self, event: LiveEvent) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for loop, queue in listeners:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, event)
            except RuntimeError:  # that loop has closed
                self._drop(queue)

    def _drop(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._listeners = [(lp, q) for lp, q in self._listeners if q is not queue]

    async def listen(self) -> AsyncIterator[LiveEvent]:
        queue: asyncio.Queue = asyncio.Queue()
        with self._lock:
            self._listeners.append((asyncio.get_running_loop(), queue))
        try:
            while True:
                yield await queue.get()
        finally:
            self._drop(queue)


class RedisBus:
    """Fan-out across processes over one Redis pub/sub channel."""

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        import redis

        self.url = url
        self.channel = channel
        self._client = redis.Redis.from_url(url)

    def publish(self, event: LiveEvent) -> None:
        try:
            self._client.publish(self.channel, event.to_json())
        except Exception:  # the change is committed; a lost push must not undo it
            log.exception("live bus: publish to Redis failed")

    async def listen(self) -> AsyncIterator[LiveEvent]:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(self.url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    try:
                        yield decode(message["data"])
                    except (ValueError, TypeError):
                        log.warning("live bus: ignored a malformed message")
        finally:
            await pubsub.unsubscribe(self.channel)
            await pubsub.aclose()
            await client.aclose()


@cache
def get_bus() -> InProcessBus | RedisBus:
    """The process's bus, as configured (REDIS_URL set: Redis; else in-process)."""
    url = settings.redis_url()
    return RedisBus(url) if url else InProcessBus()


_holding = threading.local()


@contextmanager
def held() -> Iterator[list[LiveEvent]]:
    """Collect what this thread publishes instead of sending it (db.one_transaction sends the
    list after its commit and drops it after a rollback)."""
    stack = _holding.__dict__.setdefault("stack", [])
    events: list[LiveEvent] = []
    stack.append(events)
    try:
        yield events
    finally:
        stack.pop()


_applied_by: ContextVar[str] = ContextVar("clinic_applied_by", default="")


@contextmanager
def applied_here(tab: str) -> Iterator[None]:
    """The changes made inside are shown by ``tab`` already (its event applied them): the
    visits' events carry it, so that the live push does not apply them to that tab again."""
    reset = _applied_by.set(tab)
    try:
        yield
    finally:
        _applied_by.reset(reset)


def publish(event: LiveEvent) -> None:
    """Publish ``event`` on the configured bus now. Services use ``publish_on_commit``."""
    tab = _applied_by.get()
    if tab and hasattr(event, "applied_by") and not event.applied_by:
        event = dataclasses.replace(event, applied_by=tab)
    stack = getattr(_holding, "stack", None)
    if stack:
        stack[-1].append(event)
        return
    get_bus().publish(event)


# -- events on commit -------------------------------------------------------------------------
# A service queues the event that describes its change on the session it was given; the
# session's commit publishes the queue, a rollback drops what was queued inside the rolled-back
# transaction (a savepoint's rollback only its own part). So no event ever tells screens about
# a change that did not reach the database, and no service has to be told "call after commit".
_QUEUE = "clinic_events"


def publish_on_commit(session: Session, event: LiveEvent) -> None:
    """Publish ``event`` once ``session``'s transaction commits (never if it rolls back).

    Outside a transaction that has written anything (the change is already committed, or
    nothing in this session changed), it is published at once."""
    transaction = session.get_transaction() if session.in_transaction() else None
    if transaction is None or not _writing(session):
        publish(event)
        return
    session.info.setdefault(_QUEUE, []).append((session.get_nested_transaction() or transaction, event))


def _writing(session: Session) -> bool:
    return bool(session.new or session.dirty or session.deleted or session.info.get("clinic_wrote")
                or session.in_nested_transaction() or session.info.get("clinic_owned"))


def _within(transaction, ended) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session, previous_transaction) -> None:
    queued = session.info.get(_QUEUE)
    if queued:
        session.info[_QUEUE] = [(t, e) for t, e in queued if not _within(t, previous_transaction)]


@event.listens_for(Session, "after_commit")
def _publish_committed(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's release: its events wait for the whole transaction
    queued = session.info.pop(_QUEUE, None)
    for _transaction, queued_event in queued or ():
        publish(queued_event)
