"""Type-ahead patient search at 100,000 patients: p50/p95 latency per kind of query.

What is measured
    ``services.patients.search`` (the function the board's "Find patient" box calls),
    one call per query, wall-clock time including SQLAlchemy and the driver, on a
    database migrated to head (so with migration 0004's indexes) holding N patients
    made by Faker (seeded). Queries are drawn from the patients themselves, the way a
    receptionist types them: 2-4 letters of a last name, "last, first-prefix",
    "first last-prefix", a full date of birth, the first 3-7 digits of a phone number
    and an MRN prefix. Each kind is timed over ``--queries`` calls after a warm-up.

Usage
    python bench/patient_search.py                    # SQLite file in a temp dir
    python bench/patient_search.py --url postgresql+psycopg://postgres@127.0.0.1:5432/DB
    python bench/patient_search.py --patients 100000 --queries 300
    python bench/patient_search.py --db sqlite:///bench/data/clinic_bench.db   # the generated clinic, as it is

The target is p95 < 30 ms for every kind at 100,000 patients.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faker import Faker
from sqlalchemy import func, insert
from sqlmodel import Session, select

from clinic_app.__main__ import migrate
from clinic_app.db import make_engine
from clinic_app.models import Patient
from clinic_app.models.people import digits, search_key
from clinic_app.services.frontdesk import patients
from clinic_app.services.platform.actor import Actor


def fill(engine, n: int, seed: int = 7) -> None:
    """Insert ``n`` patients in batches (Core inserts: the ORM would take minutes)."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    batch = []
    with engine.begin() as conn:
        for i in range(n):
            first, last = fake.first_name(), fake.last_name()
            phone = fake.numerify("(###) ###-####")
            batch.append({
                "mrn": f"B{i + 1:07d}", "first_name": first, "last_name": last,
                "birth_date": fake.date_of_birth(minimum_age=1, maximum_age=95), "phone": phone, "email": "",
                "active": True, "search_first": search_key(first), "search_last": search_key(last),
                "phone_digits": digits(phone), "created_at": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            })
            if len(batch) == 5000:
                conn.execute(insert(Patient), batch)
                batch = []
        if batch:
            conn.execute(insert(Patient), batch)


def queries(session: Session, rnd: random.Random, count: int) -> dict[str, list[str]]:
    sample = list(session.exec(select(Patient).order_by(Patient.id).limit(5000)))
    picks = [rnd.choice(sample) for _ in range(count)]
    return {
        "last-name prefix": [p.last_name[: rnd.randint(2, 4)] for p in picks],
        "last, first": [f"{p.last_name}, {p.first_name[:2]}" for p in picks],
        "first last": [f"{p.first_name} {p.last_name[:3]}" for p in picks],
        "date of birth": [p.birth_date.isoformat() for p in picks],
        "phone digits": [digits(p.phone)[: rnd.randint(3, 7)] for p in picks],
        "MRN prefix": [p.mrn[: rnd.randint(5, 8)] for p in picks],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--url", help="a database to fill (default: a new SQLite file); it must be empty")
    parser.add_argument("--db", help="search a clinic made by bench/generate.py as it is (no patients added)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    if args.db:
        engine = make_engine(args.db)
        with Session(engine) as session:
            total = session.exec(select(func.count()).select_from(Patient)).one()
        print(f"{total} patients in the generated clinic ({engine.dialect.name}); load average "
              + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    else:
        url = args.url or f"sqlite:///{tmp.name}/search.db"
        migrate(url)
        engine = make_engine(url)
        t0 = time.perf_counter()
        fill(engine, args.patients)
        print(f"{args.patients} patients inserted in {time.perf_counter() - t0:.1f} s ({engine.dialect.name})")
    actor = Actor(user_id=0, role="reception", name="bench")
    rnd = random.Random(11)
    with Session(engine) as session:
        if engine.dialect.name == "postgresql" and not args.db:
            session.connection().exec_driver_sql("ANALYZE patient")
        kinds = queries(session, rnd, args.queries)
        print(f"{'query kind':<18} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'avg hits':>8}")
        worst = 0.0
        for kind, texts in kinds.items():
            for text in texts[:20]:  # warm-up
                patients.search(session, actor=actor, text=text)
            times, hits = [], 0
            for text in texts:
                start = time.perf_counter()
                found = patients.search(session, actor=actor, text=text)
                times.append((time.perf_counter() - start) * 1000)
                hits += len(found)
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            worst = max(worst, p95)
            print(f"{kind:<18} {statistics.median(times):7.2f} {p95:7.2f} {times[-1]:7.2f} {hits / len(texts):8.1f}")
    print(f"worst p95: {worst:.2f} ms (target < 30 ms)")
    engine.dispose()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
