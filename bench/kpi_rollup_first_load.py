"""KPI rollup: the first dashboard load after migrating (empty rollup), and a load with nothing changed.

What is measured
    On a clinic made by bench/generate.py (issue-7b) and migrated to 0012: the rollup is
    emptied (it is derived data: kpi_visit_day, kpi_ledger_day, kpi_day_done, kpi_dirty),
    then ``services.kpi_rollup.refresh`` is timed as the dashboard runs it for the month
    ending on ``--end`` (which also computes every ledger day since the first entry, for
    open AR), then for the year, then once more with nothing changed (the check every load
    pays). Wall-clock in the process. Use a copy of the database: it rewrites the rollup.

Usage
    python bench/kpi_rollup_first_load.py --db sqlite:///bench/data/clinic_bench_copy.db --end 2026-11-30
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from clinic_app.db import make_engine
from clinic_app.services import kpi_rollup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a COPY of a generated clinic, migrated to 0012")
    parser.add_argument("--end", type=dt.date.fromisoformat, required=True, help="last day of the ranges (YYYY-MM-DD)")
    args = parser.parse_args()
    engine = make_engine(args.db)
    print(f"{engine.dialect.name}; {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with engine.begin() as conn:
        for table in ("kpi_visit_day", "kpi_ledger_day", "kpi_day_done", "kpi_dirty"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    for label, days in (("month, first load", 30), ("year, first load (month done)", 365), ("year, nothing changed", 365)):
        start = time.perf_counter()
        kpi_rollup.refresh(engine, location_id=None, start=args.end - dt.timedelta(days=days - 1), end=args.end, ledger_before=args.end)
        print(f"{label:<32} {(time.perf_counter() - start) * 1000:10.1f} ms")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
