"""Online booking's open times at production size: p50/p95/max of one location's four weeks.

What is measured
    ``services.portal.booking.location_open_times``: the open starts of a 30-minute visit for
    each of a location's 10 providers on each of 28 days, computed from working hours, time
    off, the visits already booked and the location's rooms (five queries, then Python). The
    call the portal's booking makes for one day and the FHIR Slot search for a span.

    The generated clinic (bench/generate.py) gives every provider Monday-Saturday 07:00-20:30
    (its grid), so the open starts are the gaps its visits leave. Nothing is written.

Usage
    python bench/portal_open_times.py --db sqlite:///bench/data/clinic_bench.db
    python bench/portal_open_times.py --db postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench --runs 30

Target (issue 18): p95 under 50 ms on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session, select

from bench.scale_common import dataset_today, figures, header, open_engine
from clinic_app.models import Location, Provider
from clinic_app.services.portal import booking


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a database made by bench/generate.py")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per location (after 2 warm-up runs)")
    args = parser.parse_args()
    engine = open_engine(args.db)
    today = dataset_today(engine)
    print(header(engine, "portal open times, one location x 4 weeks (booking.location_open_times)"))
    print(f"{'location':<18} {'providers':>9} {'open starts':>11} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
          f"{'cpu p50':>7}")
    worst = 0.0
    with Session(engine, expire_on_commit=False) as session:
        locations = list(session.exec(select(Location).order_by(Location.id)))
        providers = {loc.id: list(session.exec(select(Provider.id).where(Provider.location_id == loc.id)))
                     for loc in locations}
        for loc in locations:
            now = dt.datetime.combine(today, dt.time(12, 0), tzinfo=ZoneInfo(loc.timezone)).astimezone(dt.UTC)
            times, cpu, count = [], [], 0
            for run in range(args.runs + 2):
                start, start_cpu = time.perf_counter(), time.process_time()
                found = booking.location_open_times(
                    session, location=loc, provider_ids=providers[loc.id], minutes=30, first_day=today, days=28,
                    earliest=now, latest=now + dt.timedelta(days=28))
                took = (time.perf_counter() - start) * 1000
                took_cpu = (time.process_time() - start_cpu) * 1000
                count = sum(len(v) for v in found.values())
                if run >= 2:
                    times.append(took)
                    cpu.append(took_cpu)
            p50, p95, top = figures(times)
            worst = max(worst, p95)
            print(f"{loc.name:<18} {len(providers[loc.id]):>9} {count:>11} {p50:7.1f} {p95:7.1f} {top:7.1f} "
                  f"{figures(cpu)[0]:7.1f}")
        session.rollback()
    print(f"worst p95: {worst:.1f} ms (target < 50 ms: {'met' if worst < 50 else 'NOT met'})")
    print("cpu p50: this process's CPU time per call (its cost without waiting for a core on a busy machine; "
          "the database server's own time is not in it on PostgreSQL)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
