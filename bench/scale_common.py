"""What the scale benchmarks share: opening the generated clinic, percentiles, the header line."""

from __future__ import annotations

import datetime as dt
import os
import statistics

from sqlalchemy import text
from sqlalchemy.engine import Engine

from clinic_app.db import make_engine


def open_engine(url: str) -> Engine:
    """The app's engine (same pragmas and pool as the product) on a generated clinic."""
    engine = make_engine(url)
    with engine.connect() as conn:
        try:
            conn.execute(text("SELECT value FROM bench_dataset WHERE key = 'params'")).scalar_one()
        except Exception as exc:
            raise SystemExit(f"{url} holds no generated clinic: run bench/generate.py --db {url} first.") from exc
    return engine


def dataset_value(engine: Engine, key: str) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT value FROM bench_dataset WHERE key = :k"), {"k": key}).scalar_one()


def dataset_today(engine: Engine) -> dt.date:
    """The generated data's "today" (visits before it are done, after it booked)."""
    return dt.date.fromisoformat(dataset_value(engine, "today"))


def figures(times_ms: list[float]) -> tuple[float, float, float]:
    """p50, p95 (nearest rank) and max of timings in milliseconds."""
    ordered = sorted(times_ms)
    p95 = ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]
    return statistics.median(ordered), p95, ordered[-1]


def header(engine: Engine, title: str) -> str:
    """What was measured, on what, under what load (the machine is shared)."""
    with engine.connect() as conn:
        appointments = conn.execute(text("SELECT count(*) FROM appointment")).scalar_one()
        patients = conn.execute(text("SELECT count(*) FROM patient")).scalar_one()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{title}\n{engine.dialect.name}: {patients:,} patients, {appointments:,} appointments; "
            f"{os.cpu_count()} cores, load average {load}")
