"""KPI rollup: the first dashboard load after migrating (empty rollup), and a load with nothing changed.

What is measured
    On a clinic made by bench/generate.py, at the newest schema: the rollup is emptied (it is
    derived data: every kpi_* table), then the whole dashboard
    (``services.kpi.compute_range_kpis``, all locations, which brings the rollup up to date
    first) is timed for the month ending on ``--end`` (which also computes every ledger day
    since the first entry, for open AR), then for the year, then once more with nothing
    changed (what every later load pays). Wall-clock in the process. It rewrites the rollup
    (derived data; nothing else changes).

Usage
    python bench/kpi_rollup_first_load.py --db postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench_kpi --end 2026-11-30
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session

from clinic_app.db import make_engine
from clinic_app.services.kpi import kpi

ROLLUP_TABLES = ("kpi_visit_day", "kpi_visit_payer_day", "kpi_ledger_day", "kpi_money_day", "kpi_claim_day", "kpi_case_day",
                 "kpi_case_payer_day", "kpi_day_done", "kpi_dirty")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a generated clinic at the newest schema")
    parser.add_argument("--end", type=dt.date.fromisoformat, required=True, help="last day of the ranges (YYYY-MM-DD)")
    args = parser.parse_args()
    engine = make_engine(args.db)
    print(f"{engine.dialect.name}; {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with engine.begin() as conn:
        for table in ROLLUP_TABLES:
            conn.exec_driver_sql(f"DELETE FROM {table}")
    for label, days in (("month, first load", 30), ("year, first load (month done)", 365), ("year, nothing changed", 365)):
        start = time.perf_counter()
        with Session(engine) as session:
            kpi.compute_range_kpis(session, kpi.KpiFilters(start=args.end - dt.timedelta(days=days - 1), end=args.end))
        print(f"{label:<32} {(time.perf_counter() - start) * 1000:10.1f} ms")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
