"""Online booking under a rush: 200 patients book at once while 2 desks book the same times.

What is run
    A throwaway clinic (a temporary SQLite file in WAL mode, and a throwaway PostgreSQL
    database that is dropped at the end): one location, 2 providers working 08:00-18:00 on a
    day a week ahead, online booking on for a 30-minute treatment. Every patient has a portal
    account and has loaded the booking page: the open times of both providers (every 15
    minutes, 78 starts) are shown, and each patient picks one at random (seeded). Then, at
    one signal (a barrier), 200 patient threads press "Book" (``services.portal.booking.book``,
    each its own session and commit, as the portal's handler does) and 2 desk threads walk
    the half-hour grid of both providers booking a walk-in patient into every time
    (``services.frontdesk.scheduling.book_appointment``, a commit per booking), desk 2
    starting half-way along, so the desks and the patients race for the same times.

What is checked
    - no double booking: no two live visits of one provider overlap (a self-join on the
      appointment table), and the bookings reported made are the rows in the database;
    - every refusal is a message in words (the app's own ClinicError with a sentence), printed
      with its count; anything else (a database error, a lock timeout) is a refusal without
      words. The exit status is 1 if either check fails.

Usage
    python bench/portal_booking_race.py                       # SQLite, then PostgreSQL
    python bench/portal_booking_race.py --db sqlite --patients 200 --desks 2
    python bench/portal_booking_race.py --db postgresql --pg-admin postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The audit chain's key for the throwaway clinic (else one is made in the app's data folder).
os.environ.setdefault("CLINIC_AUDIT_KEY", "bench-portal-booking-race")

from sqlalchemy import create_engine, text
from sqlmodel import Session

from bench.scale_common import figures
from clinic_app.__main__ import migrate
from clinic_app.db import make_engine, utcnow
from clinic_app.models import RELEASED, AppointmentType, Location, Patient, PatientAccount, Provider, Room
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import auth
from clinic_app.services.platform.errors import ClinicError
from clinic_app.services.portal import booking
from clinic_app.services.portal.accounts import Me

TZ = "America/New_York"
HOURS = ("08:00", "18:00")
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# What a refusal in words is not: a database's or a driver's own text reaching the person.
TECHNICAL = re.compile(r"Error|Exception|psycopg|sqlite|constraint|violat|Traceback|SQL|deadlock", re.IGNORECASE)


@dataclass
class Clinic:
    location_id: int
    provider_ids: list[int]
    treatment_id: int
    patients: list[Me]
    walk_ins: list[int]
    desks: list  # Actor per desk
    day: dt.date
    now: dt.datetime


@dataclass
class Outcome:
    who: str  # "patient" or "desk"
    ok: bool
    seconds: float
    message: str = ""
    in_words: bool = True
    full: str = ""  # a refusal without words: the error's whole text, to find its cause


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)


def in_words(exc: Exception) -> tuple[str, bool]:
    """The refusal as the person sees it, and whether it is a message they can act on."""
    message = str(exc).strip()
    sentence = bool(re.search(r"[A-Za-z]+ [A-Za-z]+", message)) and not TECHNICAL.search(message)
    if isinstance(exc, ClinicError) and sentence:
        return message, True
    return f"{type(exc).__name__}: {message.splitlines()[0][:160] if message else ''}", False


def make_clinic(engine, *, patients: int, desks: int) -> Clinic:
    """The throwaway clinic: 2 providers, online booking on, the patients' accounts, the desks."""
    now = utcnow()
    day = (now + dt.timedelta(days=7)).astimezone(ZoneInfo(TZ)).date()
    walk_ins_needed = desks * 2 * 20  # every half hour of both providers' day, per desk
    with Session(engine, expire_on_commit=False) as session:
        location = Location(name="Race Clinic", timezone=TZ)
        session.add(location)
        session.flush()
        providers = [Provider(name=n, location_id=location.id, npi="1234567893") for n in ("Ann Able, PT", "Bo Baker, PT")]
        treatment = AppointmentType(name="Treatment", duration_minutes=30)
        session.add_all([*providers, treatment, *(Room(location_id=location.id, name=f"Room {i}") for i in (1, 2, 3))])
        people = [Patient(mrn=f"R{i:05d}", first_name=f"Pat{i}", last_name=f"Online{i}", birth_date=dt.date(1980, 1, 1)
                          + dt.timedelta(days=i)) for i in range(patients)]
        walk_ins = [Patient(mrn=f"W{i:05d}", first_name=f"Walk{i}", last_name=f"In{i}", birth_date=dt.date(1970, 1, 1)
                            + dt.timedelta(days=i)) for i in range(walk_ins_needed)]
        session.add_all([*people, *walk_ins])
        session.flush()
        # Accounts as an accepted invitation leaves them (the password's hash is not what is measured).
        accounts = [PatientAccount(patient_id=p.id, email=f"pat{i}@example.com", password_hash="x", password_set_at=now)
                    for i, p in enumerate(people)]
        session.add_all(accounts)
        session.commit()
        admin = auth.actor_for(auth.create_user(session, actor=None, username="race_admin", full_name="Race Admin",
                                                password="race-admin-password", role="admin", location_id=location.id))
        desk_actors = [auth.actor_for(auth.create_user(
            session, actor=None, username=f"desk{i + 1}", full_name=f"Desk {i + 1}", password="race-desk-password",
            role="reception", location_id=location.id)) for i in range(desks)]
        for provider in providers:
            scheduling.set_hours(session, actor=admin, provider_id=provider.id, weekday=day.weekday(), windows=[HOURS])
        booking.save_rules(session, actor=admin, location_id=location.id, enabled=True, type_ids=[treatment.id],
                           provider_ids=[p.id for p in providers], new_patients=True, returning_patients=True,
                           min_notice_hours=12, days_ahead=28, max_upcoming=2, cancel_window_hours=24)
        session.commit()
        return Clinic(location_id=location.id, provider_ids=[p.id for p in providers], treatment_id=treatment.id,
                      patients=[Me(account_id=a.id, patient_id=a.patient_id) for a in accounts],
                      walk_ins=[p.id for p in walk_ins], desks=desk_actors, day=day, now=now)


def race(engine, clinic: Clinic, *, seed: int) -> tuple[Tally, float, int]:
    """Every patient and desk released at once; returns the outcomes, the wall time and the times shown."""
    with Session(engine) as session:  # the booking page each patient has open (nothing booked yet)
        shown = [(pid, t.starts_at) for pid in clinic.provider_ids
                 for t in booking.open_times(session, clinic.patients[0], provider_id=pid,
                                             appointment_type_id=clinic.treatment_id, day=clinic.day, now=clinic.now)]
    grid = [(pid, start) for pid, start in shown if start.astimezone(ZoneInfo(TZ)).minute in (0, 30)]
    picks = random.Random(seed).choices(shown, k=len(clinic.patients))
    tally = Tally()
    barrier = threading.Barrier(len(clinic.patients) + len(clinic.desks) + 1)

    def attempt(who: str, book) -> None:
        with Session(engine, expire_on_commit=False) as session:
            started = time.perf_counter()
            try:
                book(session)
                session.commit()
                tally.add(Outcome(who, True, time.perf_counter() - started))
            except Exception as exc:  # every refusal is counted, in words or not
                session.rollback()
                message, worded = in_words(exc)
                tally.add(Outcome(who, False, time.perf_counter() - started, message, worded,
                                  "" if worded else str(getattr(exc, "orig", exc))[:600]))

    def patient(me: Me, pick) -> None:
        barrier.wait(timeout=300)
        attempt("patient", lambda s: booking.book(s, me, provider_id=pick[0], appointment_type_id=clinic.treatment_id,
                                                  starts_at=pick[1], now=clinic.now))

    def desk(n: int) -> None:
        order = grid[n * len(grid) // len(clinic.desks):] + grid[:n * len(grid) // len(clinic.desks)]
        walk_ins = clinic.walk_ins[n * len(grid):(n + 1) * len(grid)]
        barrier.wait(timeout=300)
        for (pid, start), patient_id in zip(order, walk_ins, strict=True):
            attempt("desk", lambda s, pid=pid, start=start, patient_id=patient_id: scheduling.book_appointment(
                s, actor=clinic.desks[n], patient_id=patient_id, provider_id=pid,
                appointment_type_id=clinic.treatment_id, starts_at=start, now=clinic.now))

    threads = [threading.Thread(target=patient, args=(me, pick)) for me, pick in zip(clinic.patients, picks, strict=True)]
    threads += [threading.Thread(target=desk, args=(n,)) for n in range(len(clinic.desks))]
    for t in threads:
        t.start()
    barrier.wait(timeout=300)
    started = time.perf_counter()
    for t in threads:
        t.join()
    return tally, time.perf_counter() - started, len(shown)


def overlaps(engine) -> tuple[int, int]:
    """(pairs of live visits of one provider that overlap, live visits in the database)."""
    released = ", ".join(f"'{s}'" for s in RELEASED)
    with engine.connect() as conn:
        pairs = conn.execute(text(
            "SELECT count(*) FROM appointment a JOIN appointment b ON a.provider_id = b.provider_id AND a.id < b.id "
            "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at "
            f"WHERE a.status NOT IN ({released}) AND b.status NOT IN ({released})")).scalar_one()
        live = conn.execute(text(f"SELECT count(*) FROM appointment WHERE status NOT IN ({released})")).scalar_one()
    return pairs, live


def report(name: str, engine, clinic: Clinic, tally: Tally, wall: float, shown: int) -> bool:
    outcomes = tally.outcomes
    made = [o for o in outcomes if o.ok]
    refused = [o for o in outcomes if not o.ok]
    wordless = [o for o in refused if not o.in_words]
    pairs, live = overlaps(engine)
    by = Counter(o.who for o in made)
    tries = Counter(o.who for o in outcomes)
    print(f"\n{name}: {len(clinic.patients)} patients online + {len(clinic.desks)} desks, 2 providers "
          f"{HOURS[0]}-{HOURS[1]} on {clinic.day.isoformat()} ({shown} open times shown); "
          f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"attempts: {len(outcomes)} (patients {tries['patient']}, desks {tries['desk']}), all released at once, "
          f"done in {wall:.2f} s")
    print(f"bookings made: {len(made)} (patients {by['patient']}, desks {by['desk']}); in the database: {live}")
    print(f"refusals: {len(refused)}, by message (times of day shown as hh:mm; one example each):")
    examples: dict[str, str] = {}
    for o in refused:
        examples.setdefault(re.sub(r"\b\d{1,2}:\d{2}\b", "hh:mm", o.message), o.message)
    for shape, count in Counter(re.sub(r"\b\d{1,2}:\d{2}\b", "hh:mm", o.message) for o in refused).most_common():
        print(f"  {count:>4}  {shape}" + (f"  (e.g. {examples[shape]!r})" if examples[shape] != shape else ""))
    for who in ("patient", "desk"):
        times = [o.seconds * 1000 for o in outcomes if o.who == who]
        if times:
            p50, p95, top = figures(times)
            print(f"{who} attempt (press to commit or refusal): p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {top:.0f} ms")
    print(f"double bookings (overlapping visits of one provider): {pairs}")
    print(f"refusals without words: {len(wordless)}")
    if wordless:
        print("  the first in full:\n    " + wordless[0].full.replace("\n", "\n    "))
    fine = pairs == 0 and not wordless and live == len(made) and len(outcomes) == tries["patient"] + tries["desk"]
    if live != len(made):
        print(f"MISMATCH: {len(made)} bookings reported made, {live} in the database")
    print("result: " + ("no double booking, every refusal in words" if fine else "FAILED"))
    return fine


def run(name: str, url: str, args) -> bool:
    migrate(url)
    engine = make_engine(url)
    try:
        clinic = make_clinic(engine, patients=args.patients, desks=args.desks)
        tally, wall, shown = race(engine, clinic, seed=args.seed)
        return report(name, engine, clinic, tally, wall, shown)
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--desks", type=int, default=2)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--pg-admin", default=PG_ADMIN, help="a PostgreSQL URL allowed to CREATE DATABASE")
    args = parser.parse_args()
    fine = True
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="portal_race_") as folder:
            fine &= run("SQLite (a temporary file, WAL)", f"sqlite:///{folder}/race.db", args)
    if args.db in ("postgresql", "both"):
        name = f"clinic_race_{uuid.uuid4().hex[:10]}"
        admin = create_engine(args.pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            fine &= run("PostgreSQL (a throwaway database)", args.pg_admin.rsplit("/", 1)[0] + f"/{name}", args)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0 if fine else 1


if __name__ == "__main__":
    raise SystemExit(main())
