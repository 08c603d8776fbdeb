"""The task rules at scale: the sweep from scratch and a biller's inbox (docs/tasks.md).

What is measured
    On a clinic made by bench/generate.py (1,000,000 appointments by default): every task rule
    computed from scratch over every subject (``rules.sweep``, the daily sweep; target under
    60 s), per rule; then a biller's inbox with at least 5,000 open tasks (the claim and balance
    rules' tasks, topped up with hand-made ones for the billers' queue if the data make fewer):
    the first page (50 by due date, with its count and audit row), p50/p95/max over ``--runs``
    (target p95 under 100 ms). The event-to-badge latency is measured by the e2e test only.

How
    python bench/generate.py --db URL          (once)
    python bench/tasks_sweep.py --db URL [--runs 50] [--keep]
    The sweep writes tasks into the generated database; they are deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete
from sqlmodel import Session, select

from bench.scale_common import dataset_today, figures, header, open_engine
from clinic_app.models import Patient, Task, User
from clinic_app.services.platform import auth
from clinic_app.services.tasks import inbox, rules

OPEN_TASKS = 5000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the tasks the sweep made")
    args = parser.parse_args()
    engine = open_engine(args.db)
    print(header(engine, "Task rules: the sweep from scratch and a biller's inbox"))
    now = dt.datetime.combine(dataset_today(engine), dt.time(7), tzinfo=ZoneInfo("America/New_York")).astimezone(dt.UTC)
    with Session(engine, expire_on_commit=False) as session:
        session.exec(delete(Task))
        session.commit()
        timings = {}
        for kind in rules.RULES:
            started = time.perf_counter()
            counts = rules.sweep(session, now=now, kinds=(kind,))
            session.commit()
            timings[kind] = (time.perf_counter() - started, counts[kind])
        total = sum(t for t, _ in timings.values())
        for kind, (seconds, opened) in timings.items():
            print(f"  sweep {kind:<17} {seconds:8.2f} s  {opened:>7,} tasks opened")
        print(f"sweep, every rule: {total:.1f} s (target under 60 s)")

        biller = session.exec(select(User).where(User.role == "biller", User.active)).first()
        if biller is None:
            biller = auth.create_user(session, actor=None, username="bench_biller", full_name="Bench Biller",
                                      password="bench-biller-password", role="biller")
        actor = auth.actor_for(biller)
        have = inbox.open_count(session, actor=actor)
        if have < OPEN_TASKS:
            patients = session.exec(select(Patient.id).limit(OPEN_TASKS - have)).all()
            day = now.date()
            session.add_all([Task(kind=rules.HAND_MADE, patient_id=p, title=f"Bench task {i}", queue_role="biller",
                                  due_on=day + dt.timedelta(days=i % 60), created_at=now) for i, p in enumerate(patients)])
            session.commit()
        print(f"biller's open tasks: {inbox.open_count(session, actor=actor):,}")
        times = []
        for _ in range(args.runs + 1):
            started = time.perf_counter()
            inbox.inbox(session, actor=actor, now=now)
            session.commit()
            times.append((time.perf_counter() - started) * 1000)
        p50, p95, worst = figures(times[1:])
        print(f"inbox first page: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms (target p95 under 100 ms)")
        if not args.keep:
            session.exec(delete(Task))
            session.commit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
