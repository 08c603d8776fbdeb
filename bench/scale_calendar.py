"""Calendar week load at production size: p50/p95/max of the board's week query.

What is measured
    ``services.board.board_day(..., days=7)``, the call the calendar board's week view
    makes (state/calendar.py ``_reload``): one location's providers, rooms, every
    appointment card of the seven days (cancelled ones included) with patient, type and
    room, the shaded unavailable spans, the closed days, prior-authorisation warnings and
    series flags, and the audit row of the view. Wall-clock time in the process, SQLAlchemy
    and the driver included; the browser's placing of the cards is not.

    On the generated clinic (bench/generate.py) each location has 10 of the 40 providers;
    "whole clinic" is the four locations' weeks loaded one after another, i.e. the 40
    providers' week. Weeks measured: the data's current week (visits done, in progress
    and booked) and a week a year earlier (all done).

Usage
    python bench/scale_calendar.py --db sqlite:///bench/data/clinic_bench.db
    python bench/scale_calendar.py --db postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench --runs 30

Target: a location's week (10 providers) under 150 ms at p95 on SQLite and PostgreSQL
(issue 14; the board opens on every reception desk).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session, select

from bench.scale_common import dataset_today, figures, header, open_engine
from clinic_app.models import Location, Provider
from clinic_app.services.frontdesk import board
from clinic_app.services.platform.actor import Actor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a database made by bench/generate.py")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per week (after 2 warm-up runs)")
    args = parser.parse_args()
    engine = open_engine(args.db)
    actor = Actor(user_id=1, role="reception", name="bench")
    today = dataset_today(engine)
    monday = today - dt.timedelta(days=today.weekday())
    with Session(engine, expire_on_commit=False) as session:
        locations = list(session.exec(select(Location).order_by(Location.id)))
        providers = {loc.id: len(session.exec(select(Provider.id).where(Provider.location_id == loc.id)).all())
                     for loc in locations}
    print(header(engine, "calendar week load (services.board.board_day, days=7)"))
    print(f"{'week':<12} {'location':<18} {'providers':>9} {'cards':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
          f"{'cpu p50':>7}")
    worst = 0.0
    for week in (monday, monday - dt.timedelta(weeks=52)):
        per_location: dict[int, list[float]] = {loc.id: [] for loc in locations}
        cpu: dict[int, list[float]] = {loc.id: [] for loc in locations}
        counts: dict[int, int] = {}
        whole: list[float] = []
        for run in range(args.runs + 2):
            total = 0.0
            for loc in locations:
                with Session(engine, expire_on_commit=False) as session:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    shown = board.board_day(session, actor=actor, location_id=loc.id, day=week, days=7)
                    session.commit()  # the audit record of the view, as the screen's in_db commits it
                    took = (time.perf_counter() - start) * 1000
                    took_cpu = (time.process_time() - start_cpu) * 1000
                counts[loc.id] = len(shown.cards)
                total += took
                if run >= 2:  # the first two runs warm the caches
                    per_location[loc.id].append(took)
                    cpu[loc.id].append(took_cpu)
            if run >= 2:
                whole.append(total)
        for loc in locations:
            p50, p95, top = figures(per_location[loc.id])
            worst = max(worst, p95)
            print(f"{week.isoformat():<12} {loc.name:<18} {providers[loc.id]:>9} {counts[loc.id]:>6} "
                  f"{p50:7.1f} {p95:7.1f} {top:7.1f} {figures(cpu[loc.id])[0]:7.1f}")
        p50, p95, top = figures(whole)
        print(f"{week.isoformat():<12} {'whole clinic':<18} {sum(providers.values()):>9} {sum(counts.values()):>6} "
              f"{p50:7.1f} {p95:7.1f} {top:7.1f}")
    print(f"worst p95 of one location's week: {worst:.1f} ms (target < 150 ms: {'met' if worst < 150 else 'NOT met'})")
    print("cpu p50: this process's CPU time per call (what the call costs here without waiting for a core on a "
          "busy machine; the database server's own time is not in it on PostgreSQL)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
