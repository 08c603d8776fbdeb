"""The upkeep's task sweep with several workers (Redis): only the first worker to ask in a
period sweeps."""

from __future__ import annotations

import os
import uuid

import redis

from clinic_app import settings, tasks_worker

REDIS = os.environ.get("CLINIC_TEST_REDIS", "redis://127.0.0.1:6379/0")


def test_only_one_worker_sweeps_per_period(monkeypatch):
    channel = f"clinic-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("CLINIC_LIVE_CHANNEL", channel)
    monkeypatch.setattr(settings, "redis_url", lambda: REDIS)
    runs = []
    monkeypatch.setattr(tasks_worker, "sweep", lambda: runs.append(1) or {"woken": 0})
    try:
        assert tasks_worker.sweep_once(3600) == {"woken": 0}
        assert tasks_worker.sweep_once(3600) is None  # another worker, same period
        assert runs == [1]
        monkeypatch.setattr(settings, "redis_url", lambda: None)  # one worker, no Redis: always
        assert tasks_worker.sweep_once(3600) == {"woken": 0} and runs == [1, 1]
    finally:
        redis.Redis.from_url(REDIS).delete(f"{channel}:tasks-sweep")
