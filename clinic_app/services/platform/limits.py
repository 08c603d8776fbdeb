"""Limits that keep one client from exhausting the server: sign-in attempts per client and per
username, and password hashing on threads of its own.

Sign-in attempts are counted in fixed one-minute windows, in Redis when ``REDIS_URL`` is set
(every worker sees the same counts) and in this process otherwise. argon2 (passlib's
defaults: 64 MiB, 3 passes, 4 lanes) takes a few hundred milliseconds of CPU on every lane:
it runs on a small pool of its own, at a lower CPU priority (the lanes' threads inherit it),
with a bounded queue, so that a flood of sign-ins neither takes the threads the screens'
events use nor piles up without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from clinic_app import settings
from clinic_app.services.platform.errors import ClinicError

T = TypeVar("T")
WINDOW_SECONDS = 60


class TooManyAttempts(ClinicError):
    """A sign-in limit was reached; the message says how long to wait."""


class Busy(ClinicError):
    """Too many sign-ins are waiting to be checked; try again in a moment."""


def _prefix() -> str:
    # One namespace per app on a shared Redis (tests give CLINIC_LIVE_CHANNEL a unique name).
    return os.environ.get("CLINIC_LIVE_CHANNEL", "clinic:live") + ":limit"


class RateLimiter:
    """How many attempts a key (a client address, a username) made in the current window."""

    def __init__(self, redis_url: str | None = None, window: int = WINDOW_SECONDS) -> None:
        self.window = window
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url)
        self._counts: dict[str, tuple[int, int]] = {}  # key -> (window number, count)
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> int:
        """Count one attempt for ``key``; how many there were in this window, this one included."""
        slot = int((now if now is not None else time.time()) // self.window)
        if self._redis is not None:
            name = f"{_prefix()}:{key}:{slot}"
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, self.window * 2)
            return int(pipe.execute()[0])
        with self._lock:
            if len(self._counts) > 100_000:  # old windows of many keys: forget them
                self._counts = {k: v for k, v in self._counts.items() if v[0] == slot}
            window, count = self._counts.get(key, (slot, 0))
            count = count + 1 if window == slot else 1
            self._counts[key] = (slot, count)
            return count

    def seconds_left(self, now: float | None = None) -> int:
        now = now if now is not None else time.time()
        return int(self.window - now % self.window) + 1


_limiter: RateLimiter | None = None


def limiter() -> RateLimiter:
    global _limiter
    if _limiter is None:
        _limiter = RateLimiter(settings.redis_url())
    return _limiter


def check_sign_in(*, client: str, username: str, limiter_: RateLimiter | None = None, now: float | None = None) -> None:
    """Count a sign-in attempt; TooManyAttempts (before any password is hashed) past either limit."""
    use = limiter_ or limiter()
    by_client = use.hit(f"client:{client}", now)
    by_user = use.hit(f"user:{(username or '').strip().lower()[:64]}", now)
    if by_client > settings.SIGN_INS_PER_CLIENT or by_user > settings.SIGN_INS_PER_USERNAME:
        raise TooManyAttempts(
            f"Too many sign-in attempts; wait {use.seconds_left(now)} seconds and try again."
        )


class HashPool:
    """A bounded pool for password hashing: ``threads`` workers at a lower priority, at most
    ``queue`` jobs waiting or running; Busy beyond that."""

    def __init__(self, threads: int, queue: int, nice: int = 10) -> None:
        self._nice = nice
        self._executor = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="clinic-hash",
                                            initializer=self._lower_priority)
        self._slots = threading.BoundedSemaphore(max(1, queue))

    def _lower_priority(self) -> None:
        # Linux: the nice value is per thread and argon2's lane threads, created by this one,
        # inherit it; the event loop and the screens' threads keep the CPU first.
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)

    async def run(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the pool; Busy at once when the queue is full."""
        if not self._slots.acquire(blocking=False):
            raise Busy("The server is busy checking other sign-ins; try again in a moment.")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work)
        finally:
            self._slots.release()


_pool: HashPool | None = None


def hash_pool() -> HashPool:
    global _pool
    if _pool is None:
        _pool = HashPool(settings.HASH_THREADS, settings.HASH_QUEUE)
    return _pool
