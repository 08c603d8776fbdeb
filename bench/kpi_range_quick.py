"""Range KPIs on synthetic data: each tile's query time and the whole dashboard's, for a
month and a year.

What is measured
    A synthetic clinic (2 locations in two zones, 20 providers with weekday hours, 10,000
    patients, ``--appointments`` visits spread over 2029-2030 with notes, charges, billed
    charges and payments) is loaded straight into a fresh database; then each tile function of
    ``services.kpi`` is timed (second run, warm cache) for March 2030 and for 2030, and
    ``compute_range_kpis`` as a whole. Prints milliseconds. The full 1,000,000-appointment
    generator and the comparison with hand-written SQL are a separate benchmark.

How
    ``python bench/kpi_range_quick.py [--appointments 200000] [--url URL]``. Without ``--url``
    a temporary SQLite file is used. A PostgreSQL URL must name a database of its own: every
    table in it is dropped and created again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, SQLModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import clinic_app.models  # noqa: F401  (tables on the metadata)
from clinic_app.db import make_engine
from clinic_app.models import Patient
from clinic_app.services.kpi import kpi


def load(engine, count: int) -> None:
    rnd = random.Random(1)
    sqlite = engine.dialect.name == "sqlite"
    with Session(engine) as s:
        s.add_all([Patient(id=i, mrn=f"M{i}", first_name="A", last_name="B", birth_date=dt.date(1980, 1, 1)) for i in range(1, 10001)])
        s.commit()
    with engine.begin() as c:
        c.execute(text("insert into location (id,name,timezone,address,active,late_cancel_hours) values "
                       "(1,'A','America/New_York','',true,24),(2,'B','America/Chicago','',true,24)"))
        c.execute(text("insert into provider (id,name,discipline,location_id,active) values "
                       + ",".join(f"({i},'P{i}','pt',{1 + i % 2},true)" for i in range(1, 21))))
        c.execute(text("insert into provider_hours (provider_id,weekday,start_minute,end_minute) values "
                       + ",".join(f"({p},{w},540,1020)" for p in range(1, 21) for w in range(5))))
        c.execute(text("insert into appointment_type (id,name,duration_minutes,color,active) values (1,'T',30,'blue',true)"))
        base = dt.datetime(2029, 1, 1, 14, tzinfo=dt.UTC)
        rows = []
        for i in range(1, count + 1):
            start = base + dt.timedelta(days=rnd.randrange(730), minutes=30 * rnd.randrange(16))
            status = rnd.choice(["billed"] * 6 + ["no_show", "cancelled", "arrived", "ready_to_bill"])
            provider = rnd.randrange(1, 21)
            came = status in ("billed", "arrived", "ready_to_bill")
            rows.append({
                "id": i, "pa": rnd.randrange(1, 10001), "pr": provider, "lo": 1 + provider % 2, "s": start,
                "e": start + dt.timedelta(minutes=30), "st": status, "ar": start if came else None,
                "ss": start + dt.timedelta(minutes=5) if status in ("billed", "ready_to_bill") else None,
                "lc": status == "cancelled" and rnd.random() < 0.5, "d": start.date(),
            })
        if sqlite:  # naive UTC, as the app stores it there
            for r in rows:
                for k in ("s", "e", "ar", "ss"):
                    r[k] = r[k].replace(tzinfo=None) if r[k] is not None else None
        c.execute(text("insert into appointment (id,patient_id,provider_id,location_id,appointment_type_id,starts_at,ends_at,status,"
                       "arrived_at,session_started_at,cancel_reason,late_cancel,created_at) "
                       "values (:id,:pa,:pr,:lo,1,:s,:e,:st,:ar,:ss,'',:lc,:s)"), rows)
        done = [r for r in rows if r["st"] in ("billed", "ready_to_bill")]
        c.execute(text("insert into note (id,appointment_id,patient_id,provider_id,subjective,objective,assessment,plan,created_at,"
                       "updated_at,signed_at) values (:id,:id,:pa,:pr,'','','','',:s,:s,:e)"), done)
        c.execute(text("insert into charge (appointment_id,note_id,line_no,code,units,unit_price_cents,amount_cents,diagnosis_codes,"
                       "created_at) values (:id,:id,1,'97110',2,4500,9000,'',:e)"), done)
        ledger = ("insert into ledger_entry (patient_id,appointment_id,kind,amount_cents,service_date,method,reference,reason,created_at) "
                  "values (:pa,:id,:kind,:amount,:d,:method,'','',:e)")
        c.execute(text(ledger), [{**r, "kind": "charge", "amount": 9000, "method": ""} for r in done])
        c.execute(text(ledger), [{**r, "kind": "payment", "amount": -7000, "method": "cash"} for r in done if r["st"] == "billed"])
    if not sqlite:
        with engine.begin() as c:
            c.execute(text("analyze"))


def tile_calls(s: Session, filters: kpi.KpiFilters) -> dict:
    """One call per tile function, for one range."""
    scope = kpi._scope(s, filters)
    return {
        "visit counts and rates": lambda: kpi.visit_counts(s, scope), "utilisation": lambda: kpi.utilisation(s, scope),
        "new patients": lambda: kpi.new_patients(s, scope), "visits per case": lambda: kpi.visits_per_case(s, scope),
        "wait time": lambda: kpi.wait_time(s, scope), "documentation lag": lambda: kpi.documentation_lag(s, scope),
        "charges": lambda: kpi.charges(s, scope), "payments": lambda: kpi.payments(s, scope),
        "collection rate": lambda: kpi.collection(s, scope, 1), "AR days": lambda: kpi.ar_days(s, filters),
        "clean-claim rate": lambda: kpi.clean_claims(s, scope), "denial rate": lambda: kpi.denials(s, scope),
        "visits per period": lambda: kpi.visits_by_period(s, scope),
    }


def timed(fn) -> float:
    fn()
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appointments", type=int, default=200_000)
    parser.add_argument("--url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kpi-bench-") as tmp:
        run(make_engine(args.url or f"sqlite:///{tmp}/kpi.db"), args.appointments)


def run(engine, appointments: int) -> None:
    SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)
    started = time.perf_counter()
    load(engine, appointments)
    print(f"{engine.dialect.name}: loaded {appointments:,} appointments in {time.perf_counter() - started:.0f} s")
    ranges = {"month": kpi.KpiFilters(dt.date(2030, 3, 1), dt.date(2030, 3, 31)),
              "year": kpi.KpiFilters(dt.date(2030, 1, 1), dt.date(2030, 12, 31))}
    with Session(engine) as s:
        for label, filters in ranges.items():
            for name, fn in tile_calls(s, filters).items():
                print(f"  {label:5} {name:24} {timed(fn):7.0f} ms")
            print(f"  {label:5} {'whole dashboard':24} {timed(lambda f=filters: kpi.compute_range_kpis(s, f)):7.0f} ms")
    engine.dispose()


if __name__ == "__main__":
    main()
