"""Generate a clinic of production size for the scale benchmarks (docs/scale.md).

What it makes (defaults): 100,000 patients and 1,000,000 appointments over about three
years, 40 providers at 4 locations with 10 rooms each, and behind the visits what the
product would have written: signed notes, charges, claims with their status history,
ledger entries (claim charges, insurance payments, contractual adjustments, transfers to
the patient, patient and self-pay payments), coverage, one episode of care per patient
with every visit counted against it.

How it stays consistent with the schema
    The database is migrated to head first (``clinic_app.__main__.migrate``) and every
    rule stays on: no trigger or constraint is disabled. Visits sit on a 30-minute grid,
    07:00-20:30 local time, Monday to Saturday; each provider has one room per day, and
    the patients seen in one slot are all different, so no provider, room or patient is
    ever double-booked. Rows go in so that the rules pass quickly: appointments newest
    first (SQLite's overlap triggers then look at one index entry, not every earlier
    visit of the provider), notes already signed, charges after their notes.

Speed
    Rows are made in Python and written in batches: PostgreSQL COPY (psycopg), SQLite
    ``executemany`` on one connection in large transactions. Explicit ids are derived
    from the appointment id (note = appointment, claim = appointment, charge =
    appointment*4+line...), so no row needs a round trip.

Reuse
    A finished run writes a ``bench_dataset`` table (outside the app's schema) with its
    parameters. A second run with the same parameters prints "already generated" and
    stops; with other parameters, or after an interrupted run, it asks for ``--reset``,
    which deletes the SQLite file or drops and recreates the PostgreSQL database.

Usage
    python bench/generate.py --db sqlite:///bench/data/clinic_bench.db
    python bench/generate.py --db postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench
    python bench/generate.py --db ... --patients 50 --appointments 500 --providers 4 --locations 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import sqlite3
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from faker import Faker
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from clinic_app.__main__ import migrate
from clinic_app.models.people import digits, search_key
from clinic_app.services.charting.codes import npi_check_digit

TODAY = dt.date(2026, 11, 30)  # the data's "today": a Monday; four weeks after it are booked ahead
SLOT_MINUTES = 30
FIRST_SLOT = 7 * 60  # 07:00 local
SLOTS_PER_DAY = 27  # 07:00-20:30
MAX_FILL = 0.97  # at most this share of the grid's slots is booked
FUTURE_DAYS = 28
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Phoenix")
PAYERS = (("Medicare Part B", "MEDICARE"), ("Blue Cross", "BCBS01"), ("Aetna", "AETNA60054"),
          ("United Healthcare", "UHC87726"), ("Cigna", "CIGNA62308"))
FEES = (("97161", 11500, False), ("97110", 3600, True), ("97140", 3400, True), ("97530", 3900, True),
        ("97112", 3700, True))
DIAGNOSES = ("M5450", "M25561", "M25511", "S33.5XXA", "M6281", "M545")
TYPES = (("Initial evaluation", "purple"), ("Treatment", "blue"), ("Re-evaluation", "green"))


# -- the tables written, with their columns in write order -------------------------
COLUMNS = {
    "location": ("id", "name", "timezone", "address", "active", "late_cancel_hours"),
    "room": ("id", "location_id", "name", "active"),
    "provider": ("id", "name", "discipline", "npi", "location_id", "active"),
    "user": ("id", "username", "full_name", "password_hash", "role", "provider_id", "location_id", "active",
             "created_at", "failed_sign_ins", "must_change_password"),
    "provider_hours": ("id", "provider_id", "weekday", "start_minute", "end_minute"),
    "appointment_type": ("id", "name", "duration_minutes", "color", "active"),
    "fee": ("id", "code", "description", "amount_cents", "timed", "active"),
    "payer": ("id", "name", "payer_id", "default_modifiers", "active"),
    "patient": ("id", "mrn", "first_name", "last_name", "birth_date", "phone", "email", "active", "created_at",
                "sex", "address_line", "city", "region", "postal_code", "preferred_channel", "reminders_opt_out",
                "emergency_name", "emergency_relationship", "emergency_phone", "guarantor_relationship",
                "guarantor_name", "guarantor_phone", "search_last", "search_first", "phone_digits"),
    "coverage": ("id", "patient_id", "payer_id", "member_id", "group_number", "priority", "relationship",
                 "subscriber_first_name", "subscriber_last_name", "address", "city", "state", "zip_code",
                 "effective_from", "active"),
    "care_case": ("id", "patient_id", "title", "referral_source", "diagnosis_code", "payer_name",
                  "authorized_visits", "auth_start", "auth_end", "active", "created_at"),
    "appointment": ("id", "patient_id", "provider_id", "location_id", "room_id", "appointment_type_id",
                    "starts_at", "ends_at", "status", "arrived_at", "session_started_at", "cancel_reason",
                    "late_cancel", "checked_out_at", "created_at"),
    "case_visit": ("id", "case_id", "appointment_id"),
    "note": ("id", "appointment_id", "patient_id", "provider_id", "subjective", "objective", "assessment", "plan",
             "created_at", "updated_at", "signed_at", "signed_by_user_id"),
    "charge": ("id", "appointment_id", "note_id", "line_no", "code", "units", "unit_price_cents", "amount_cents",
               "diagnosis_codes", "created_at"),
    "claim": ("id", "number", "appointment_id", "patient_id", "payer_id", "coverage_id", "service_date", "status",
              "frequency", "payer_claim_number", "total_cents", "submit_count", "created_at"),
    "claim_event": ("id", "claim_id", "from_status", "to_status", "user_id", "at", "note"),
    "ledger_entry": ("id", "patient_id", "payer_id", "appointment_id", "claim_id", "kind", "amount_cents",
                     "service_date", "method", "reference", "reason", "user_id", "created_at"),
}
# Parents before children (foreign keys); appointments and what hangs off them go in per batch.
# Columns SQLite gets as text (dates, times) or 0/1 (booleans), the way SQLAlchemy stores them.
CONVERTED = {
    "active", "late_cancel", "timed", "reminders_opt_out", "must_change_password", "birth_date", "effective_from",
    "auth_start", "auth_end", "service_date", "created_at", "updated_at", "signed_at", "starts_at", "ends_at",
    "arrived_at", "session_started_at", "checked_out_at", "at",
}
REFERENCE_TABLES = ("location", "room", "provider", "user", "provider_hours", "appointment_type", "fee", "payer")
PEOPLE_TABLES = ("patient", "coverage", "care_case")
VISIT_TABLES = ("appointment", "case_visit", "note", "charge", "claim", "claim_event", "ledger_entry")


def _npi(n: int) -> str:
    first_nine = f"1{n:08d}"
    return first_nine + str(npi_check_digit(first_nine))


# -- writers: one per database kind -------------------------------------------------
class SqliteWriter:
    """executemany on one sqlite3 connection; datetimes as SQLAlchemy stores them (naive UTC text)."""

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=OFF", "cache_size=-400000",
                       "temp_store=MEMORY"):
            self.conn.execute(f"PRAGMA {pragma}")

    @staticmethod
    def _value(v):
        if isinstance(v, dt.datetime):
            s = v.isoformat(" ")
            return s if len(s) > 19 else s + ".000000"
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, bool):
            return int(v)
        return v

    def write(self, table: str, rows: list[tuple]) -> None:
        if not rows:
            return
        cols = COLUMNS[table]
        # Convert only the columns that hold dates, times or booleans.
        convert = [i for i, c in enumerate(cols) if c in CONVERTED]
        if convert:
            conv = self._value
            rows = [list(r) for r in rows]
            for r in rows:
                for i in convert:
                    r[i] = conv(r[i])
        marks = ", ".join("?" * len(cols))
        names = ", ".join(f'"{c}"' for c in cols)
        self.conn.execute("BEGIN")
        self.conn.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)
        self.conn.execute("COMMIT")

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def grown(self, appointments: int) -> None:
        pass

    def finish(self) -> None:
        self.conn.close()


class PostgresWriter:
    """COPY through psycopg, in UTC (the generator's datetimes are naive UTC)."""

    def __init__(self, url: str):
        import psycopg

        u = make_url(url)
        self.conn = psycopg.connect(
            host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
            password=u.password, dbname=u.database, autocommit=True,
        )
        self.conn.execute("SET TIME ZONE 'UTC'")
        self.conn.execute("SET synchronous_commit = off")
        self.analyzed = 25_000

    def write(self, table: str, rows: list[tuple]) -> None:
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in COLUMNS[table])
        with self.conn.transaction(), self.conn.cursor() as cur, cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def grown(self, appointments: int) -> None:
        """The triggers' queries (migration 0012's first-visit look-up, the overlap checks) are
        planned from the tables' statistics: with none (autovacuum off, or not yet run) they
        scan, and the load slowed to ~200 visits/s by 400,000. ANALYZE each time the visits double."""
        if appointments >= 2 * self.analyzed:
            self.conn.execute("ANALYZE")
            self.analyzed = appointments

    def finish(self) -> None:
        # The app's sequences carry on after the generated ids.
        for table in COLUMNS:
            self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f"COALESCE((SELECT max(id) FROM \"{table}\"), 0) + 1, false)"
            )
        self.conn.execute("ANALYZE")
        self.conn.close()


# -- the clinic ---------------------------------------------------------------------
class Clinic:
    """Reference rows and the state the visit generator needs."""

    def __init__(self, rnd: random.Random, *, providers: int, locations: int, rooms: int):
        self.rnd = rnd
        self.locations = [(i + 1, ZONES[i % len(ZONES)]) for i in range(locations)]
        self.rooms_at = {loc: [(loc - 1) * rooms + r + 1 for r in range(rooms)] for loc, _ in self.locations}
        # Providers spread over the locations; provider i is user i + 2 (1 admin, 2 manager).
        self.providers = [(p + 1, self.locations[p % locations][0]) for p in range(providers)]
        self.user_of = {pid: pid + 2 for pid, _ in self.providers}
        self.index_at_location = {pid: (pid - 1) // locations for pid, _ in self.providers}
        self.providers_at = {loc: [pid for pid, lc in self.providers if lc == loc] for loc, _ in self.locations}

    def reference_rows(self, password_hash: str, created: dt.datetime) -> dict[str, list[tuple]]:
        fake = Faker("en_US")
        fake.seed_instance(3)
        rows: dict[str, list[tuple]] = {t: [] for t in REFERENCE_TABLES}
        for loc, tz in self.locations:
            rows["location"].append((loc, f"Bench clinic {loc}", tz, fake.street_address(), True, 24))
            rows["room"] += [(rid, loc, f"Room {n + 1}", True) for n, rid in enumerate(self.rooms_at[loc])]
        for pid, loc in self.providers:
            rows["provider"].append((pid, fake.name(), "physiotherapy", _npi(pid), loc, True))
        rows["user"].append((1, "bench-admin", "Bench Admin", password_hash, "admin", None, None, True, created, 0, False))
        rows["user"].append((2, "bench-manager", "Bench Manager", password_hash, "manager", None, None, True, created, 0, False))
        for pid, loc in self.providers:
            rows["user"].append((self.user_of[pid], f"bench-clinician-{pid}", f"Clinician {pid}", password_hash,
                                 "clinician", pid, loc, True, created, 0, False))
        rows["provider_hours"] = [
            (n + 1, pid, weekday, FIRST_SLOT, FIRST_SLOT + SLOTS_PER_DAY * SLOT_MINUTES)
            for n, (pid, weekday) in enumerate((pid, w) for pid, _ in self.providers for w in range(6))
        ]
        rows["appointment_type"] = [(i + 1, name, SLOT_MINUTES, color, True) for i, (name, color) in enumerate(TYPES)]
        rows["fee"] = [(i + 1, code, "", cents, timed, True) for i, (code, cents, timed) in enumerate(FEES)]
        rows["payer"] = [(i + 1, name, pid, "GP", True) for i, (name, pid) in enumerate(PAYERS)]
        return rows


def _patients(n: int, span_start: dt.date, span_days: int, seed: int) -> tuple[dict[str, list[tuple]], dict]:
    """Patients in order of their first visit, with coverage (80%) and one episode of care each."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rnd = random.Random(seed)
    firsts = [fake.first_name() for _ in range(400)]
    lasts = [fake.last_name() for _ in range(1000)]
    cities = [(fake.city(), fake.state_abbr(), fake.postcode()) for _ in range(200)]
    rows: dict[str, list[tuple]] = {t: [] for t in PEOPLE_TABLES}
    coverage_of: dict[int, tuple[int, int]] = {}
    for pid in range(1, n + 1):
        first, last = rnd.choice(firsts), rnd.choice(lasts)
        phone = f"({rnd.randint(201, 989)}) {rnd.randint(200, 999)}-{rnd.randint(0, 9999):04d}"
        city, state, postcode = rnd.choice(cities)
        arrival = span_start + dt.timedelta(days=int(span_days * (pid - 1) / max(1, n)))
        created = dt.datetime.combine(arrival - dt.timedelta(days=rnd.randint(1, 20)), dt.time(14, rnd.randint(0, 59)))
        birth = dt.date(rnd.randint(1935, 2018), rnd.randint(1, 12), rnd.randint(1, 28))
        minor = birth.year > 2008
        rows["patient"].append((
            pid, f"B{pid:07d}", first, last, birth, phone, f"{search_key(first)}.{search_key(last)}{pid}@example.org",
            True, created, rnd.choice(("female", "male")), f"{rnd.randint(1, 9999)} Main St", city, state, postcode,
            rnd.choice(("sms", "email", "phone")), False, "", "", "",
            "parent" if minor else "self", f"Parent of {first}" if minor else "", "",
            search_key(last)[:80], search_key(first)[:80], digits(phone)[:20],
        ))
        payer_id = rnd.randint(1, len(PAYERS)) if rnd.random() < 0.8 else None
        if payer_id:
            coverage_of[pid] = (pid, payer_id)
            rows["coverage"].append((
                pid, pid, payer_id, f"M{rnd.randint(10**8, 10**9 - 1)}", f"G{rnd.randint(100, 999)}", 1, "self",
                first, last, "1 Main St", city[:30], state, postcode[:9], arrival - dt.timedelta(days=365), True,
            ))
        rows["care_case"].append((
            pid, pid, "Episode of care", rnd.choice(("Dr Smith", "Self", "Dr Jones", "Orthopaedics")),
            rnd.choice(DIAGNOSES), PAYERS[payer_id - 1][0] if payer_id else "Self-pay",
            12 if payer_id else None, arrival if payer_id else None, arrival + dt.timedelta(days=90) if payer_id else None,
            True, created,
        ))
    return rows, coverage_of


def _grid_days(appointments: int, providers: int) -> tuple[list[dt.date], float, dt.date]:
    """Working days (Monday-Saturday), newest first: three years back from four weeks
    ahead, more if the appointments need them; and the share of slots to book."""
    per_day = providers * SLOTS_PER_DAY
    last = TODAY + dt.timedelta(days=FUTURE_DAYS)
    days, day = [], last
    while day > last - dt.timedelta(days=3 * 365) or len(days) * per_day * MAX_FILL < appointments:
        if day.weekday() < 6:
            days.append(day)
        day -= dt.timedelta(days=1)
    fill = min(MAX_FILL, appointments / (len(days) * per_day))
    first = days[-1]
    # Slack for chance: slots are booked at random, so a few more days may be needed.
    extra = int(len(days) * 0.1) + 30
    while extra:
        if day.weekday() < 6:
            days.append(day)
            extra -= 1
        day -= dt.timedelta(days=1)
    return days, fill, first


class Visits:
    """Appointments and what the product writes behind them, generated newest first."""

    def __init__(self, clinic: Clinic, rnd: random.Random, *, patients: int, total: int, coverage_of: dict,
                 fill: float, case_of_patient=lambda pid: pid):
        self.clinic, self.rnd, self.patients, self.total, self.fill = clinic, rnd, patients, total, fill
        self.coverage_of, self.case_of = coverage_of, case_of_patient
        self.now = dt.datetime.combine(TODAY, dt.time(12)) + dt.timedelta(hours=5)  # noon in New York, as naive UTC
        # Each patient is seen in a window of about 2% of the span (~3 weeks): c. 10 visits close together.
        self.window = min(patients, max(2 * len(clinic.providers) * len(clinic.locations), patients // 50))
        self.made = 0
        self.batch: dict[str, list[tuple]] = {t: [] for t in VISIT_TABLES}
        self.zones = {loc: ZoneInfo(tz) for loc, tz in clinic.locations}

    def _first_slot_utc(self, day: dt.date, loc: int) -> dt.datetime:
        local = dt.datetime.combine(day, dt.time(FIRST_SLOT // 60, FIRST_SLOT % 60), tzinfo=self.zones[loc])
        return local.astimezone(dt.UTC).replace(tzinfo=None)

    def day(self, day: dt.date) -> None:
        """Book one working day, latest slot first, every provider."""
        rnd, clinic = self.rnd, self.clinic
        firsts = {loc: self._first_slot_utc(day, loc) for loc, _ in clinic.locations}
        ordinal = day.toordinal()
        by_location = clinic.providers_at
        step = len(clinic.locations)
        for slot in range(SLOTS_PER_DAY - 1, -1, -1):
            hi = max(self.window, math.ceil(self.patients * (1 - self.made / self.total)))
            for loc, _ in clinic.locations:
                booked = [pid for pid in by_location[loc] if rnd.random() < self.fill][: self.total - self.made]
                if not booked:
                    continue
                # Patients belong to one location (id modulo the number of locations), so the
                # patients of one slot are all different: no patient is in two places at once.
                first = hi - self.window + 1
                first += (loc - 1 - first) % step
                who = rnd.sample(range(first, hi + 1, step), len(booked))
                start = firsts[loc] + dt.timedelta(minutes=slot * SLOT_MINUTES)
                rooms = clinic.rooms_at[loc]
                for pid, patient_id in zip(booked, who, strict=True):
                    # One room per provider per day (providers of a location never share one);
                    # a location with more providers than rooms books the rest without a room.
                    index = clinic.index_at_location[pid]
                    room = rooms[(index + ordinal) % len(rooms)] if index < len(rooms) else None
                    self._visit(self.total - self.made, patient_id, pid, loc, room, start, day)
                    self.made += 1

    def _visit(self, aid, patient_id, provider_id, loc, room, start, day) -> None:
        rnd, b = self.rnd, self.batch
        end = start + dt.timedelta(minutes=SLOT_MINUTES)
        created = min(start - dt.timedelta(days=rnd.randint(1, 21), minutes=rnd.randint(0, 600)), self.now)
        kind = 1 if rnd.random() < 0.1 else (3 if rnd.random() < 0.05 else 2)
        r = rnd.random()
        arrived = started = out = None
        reason, late = "", False
        if start >= self.now:
            status = "booked"
        elif r < 0.06:
            status = "no_show"
        elif r < 0.15:
            status, reason = "cancelled", rnd.choice(("Patient unwell", "Work conflict", "Transport"))
            late = rnd.random() < 0.3
        else:
            arrived = start - dt.timedelta(minutes=rnd.randint(0, 15), seconds=rnd.randint(0, 59))
            started = start + dt.timedelta(minutes=rnd.randint(0, 12))
            out = end + dt.timedelta(minutes=rnd.randint(1, 10))
            age = (self.now - end).total_seconds() / 86400
            status = "billed" if age > 3 else rnd.choice(("in_session", "ready_to_bill", "ready_to_bill", "billed"))
            if end > self.now:
                status, out = ("arrived", None) if start > self.now - dt.timedelta(minutes=5) else ("in_session", None)
                started = None if status == "arrived" else started
        b["appointment"].append((aid, patient_id, provider_id, loc, room, kind, start, end, status, arrived, started,
                                 reason, late, out, created))
        b["case_visit"].append((aid, self.case_of(patient_id), aid))
        if status in ("in_session", "ready_to_bill", "billed"):
            self._note_and_money(aid, patient_id, provider_id, start, end, day, status)

    def _note_and_money(self, aid, patient_id, provider_id, start, end, day, status) -> None:
        rnd, b = self.rnd, self.batch
        signed = None
        if status != "in_session":
            # Documentation lag: most notes the same day, a tail over the next days.
            lag = rnd.expovariate(1 / 240) if rnd.random() < 0.85 else rnd.uniform(24 * 60, 5 * 24 * 60)
            signed = min(end + dt.timedelta(minutes=int(lag) + 1), self.now - dt.timedelta(minutes=1))
        user = self.clinic.user_of[provider_id]
        b["note"].append((aid, aid, patient_id, provider_id, "Pain 4/10 on stairs.", "ROM improving.",
                          "Progressing as expected.", "Continue plan.", start, signed or start, signed,
                          user if signed else None))
        if signed is None:
            return
        dx = rnd.choice(DIAGNOSES)
        lines = [FEES[0]] if rnd.random() < 0.1 else rnd.sample(FEES[1:], rnd.randint(1, 2))
        total = 0
        for n, (code, cents, timed) in enumerate(lines, start=1):
            units = rnd.randint(1, 3) if timed else 1
            total += units * cents
            b["charge"].append((aid * 4 + n, aid, aid, n, code, units, cents, units * cents, dx, signed))
        if status != "billed":
            return
        coverage = self.coverage_of.get(patient_id)
        ledger_id = aid * 8
        if coverage is None:
            # Self-pay: billed to the patient, mostly paid at check-out.
            b["ledger_entry"].append((ledger_id, patient_id, None, aid, None, "charge", total, day, "", "",
                                      "billed to patient", 2, signed))
            if rnd.random() < 0.9:
                b["ledger_entry"].append((ledger_id + 1, patient_id, None, aid, None, "payment", -total, day,
                                          rnd.choice(("card", "cash")), "", "", 2, signed + dt.timedelta(hours=1)))
            return
        self._claim(aid, patient_id, coverage, day, total, signed)

    def _claim(self, aid, patient_id, coverage, day, total, signed) -> None:
        rnd, b, now = self.rnd, self.batch, self.now
        coverage_id, payer_id = coverage
        created = min(signed + dt.timedelta(hours=rnd.randint(1, 30)), now - dt.timedelta(minutes=1))
        events = [(None, "draft", created, "claim created")]
        at = created + dt.timedelta(hours=rnd.randint(2, 48))
        events.append(("draft", "submitted", at, "837P"))
        if rnd.random() < 0.04:
            at += dt.timedelta(days=1)
            events += [("submitted", "rejected", at, "999 rejected"), ("rejected", "draft", at, "corrected"),
                       ("draft", "submitted", at + dt.timedelta(hours=3), "837P")]
        answer_at = at + dt.timedelta(days=rnd.randint(10, 35))
        r = rnd.random()
        answer = "paid" if r < 0.88 else ("denied" if r < 0.96 else "accepted")
        events.append(("submitted", answer, answer_at, "835" if answer != "accepted" else "277CA accepted"))
        # What has happened by "now" is the claim's history; its status is the last step.
        events = [e for e in events if e[2] < now]
        status = events[-1][1]
        submits = sum(e[1] == "submitted" for e in events)
        b["claim"].append((aid, f"C{aid:09d}", aid, patient_id, payer_id, coverage_id, day, status, "1",
                           f"P{aid}" if status in ("paid", "denied") else "", total, submits, created))
        b["claim_event"] += [(aid * 8 + n, aid, f, t, 2, when, note) for n, (f, t, when, note) in enumerate(events)]
        ledger_id = aid * 8
        reason = f"claim C{aid:09d}"
        entries = [(ledger_id, patient_id, payer_id, aid, aid, "charge", total, day, "", "", reason, 2, created)]
        if status == "paid":
            paid = total * 70 // 100
            patient_part = total * 10 // 100
            contractual = total - paid - patient_part
            entries += [
                (ledger_id + 1, patient_id, payer_id, aid, aid, "payment", -paid, day, "insurance", f"TRN{aid}",
                 f"835 {reason}", 2, answer_at),
                (ledger_id + 2, patient_id, payer_id, aid, aid, "adjustment", -contractual, day, "", "",
                 "CO-45 Charge exceeds fee schedule", 2, answer_at),
                (ledger_id + 3, patient_id, payer_id, aid, aid, "transfer", -patient_part, day, "", "",
                 "PR-2 Coinsurance", 2, answer_at),
                (ledger_id + 4, patient_id, None, aid, aid, "transfer", patient_part, day, "", "",
                 "PR-2 Coinsurance", 2, answer_at),
            ]
            paid_on = answer_at + dt.timedelta(days=rnd.randint(3, 40))
            if rnd.random() < 0.8 and paid_on < now:
                entries.append((ledger_id + 5, patient_id, None, aid, None, "payment", -patient_part, day,
                                "card", "", "", 2, paid_on))
        b["ledger_entry"] += entries


# -- the run ------------------------------------------------------------------------
def _params(args) -> dict:
    return {"patients": args.patients, "appointments": args.appointments, "providers": args.providers,
            "locations": args.locations, "rooms": args.rooms, "seed": args.seed, "today": TODAY.isoformat()}


def _ensure_database(url: str, reset: bool) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        path = Path(u.database)
        if reset:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if reset:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": u.database}).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()


def _state(url: str) -> tuple[dict | None, int]:
    """The marker's parameters (None if no finished run) and how many appointments exist."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM appointment")).scalar_one()
            has_marker = conn.execute(text(
                "SELECT count(*) FROM sqlite_master WHERE name = 'bench_dataset'" if engine.dialect.name == "sqlite"
                else "SELECT count(*) FROM pg_tables WHERE tablename = 'bench_dataset'"
            )).scalar_one()
            params = None
            if has_marker:
                params = json.loads(conn.execute(text("SELECT value FROM bench_dataset WHERE key = 'params'")).scalar_one())
            return params, count
    finally:
        engine.dispose()


def generate(url: str, *, patients: int, appointments: int, providers: int = 40, locations: int = 4,
             rooms: int = 10, seed: int = 7, reset: bool = False, quiet: bool = False) -> dict:
    """Fill the database at ``url`` (created and migrated if needed); returns what it made."""
    say = (lambda *_: None) if quiet else print
    args = argparse.Namespace(patients=patients, appointments=appointments, providers=providers, locations=locations,
                              rooms=rooms, seed=seed)
    params = _params(args)
    if patients < providers + locations:
        raise SystemExit("--patients must be at least --providers (each slot sees different patients).")
    _ensure_database(url, reset)
    t0 = time.perf_counter()
    migrate(url)
    done, count = _state(url)
    if done == params:
        say(f"Already generated ({count} appointments, {json.dumps(params)}); nothing to do.")
        return {"reused": True, "appointments": count}
    if done is not None or count:
        raise SystemExit("This database already holds other data (or an interrupted run); run again with --reset.")
    say(f"migrated in {time.perf_counter() - t0:.1f} s")
    rnd = random.Random(seed)
    writer = SqliteWriter(make_url(url).database) if url.startswith("sqlite") else PostgresWriter(url)
    clinic = Clinic(rnd, providers=providers, locations=locations, rooms=rooms)
    from clinic_app.services.platform.auth import hash_password

    created = dt.datetime(2020, 1, 1, 9)
    for table, rows in clinic.reference_rows(hash_password(f"bench-{seed}-not-for-sign-in"), created).items():
        writer.write(table, rows)
    days, fill, span_start = _grid_days(appointments, providers)
    span_days = (days[0] - span_start).days + 1
    t1 = time.perf_counter()
    people, coverage_of = _patients(patients, span_start, span_days, seed)
    for table in PEOPLE_TABLES:
        writer.write(table, people[table])
    say(f"{patients} patients written in {time.perf_counter() - t1:.1f} s")
    del people
    visits = Visits(clinic, rnd, patients=patients, total=appointments, coverage_of=coverage_of, fill=fill)
    counts = dict.fromkeys(VISIT_TABLES, 0)
    t2 = time.perf_counter()
    for day in days:
        if visits.made >= appointments:
            break
        visits.day(day)
        first_day = day
        if len(visits.batch["appointment"]) >= 50_000 or visits.made >= appointments:
            for table in VISIT_TABLES:
                writer.write(table, visits.batch[table])
                counts[table] += len(visits.batch[table])
                visits.batch[table] = []
            writer.grown(visits.made)
            rate = visits.made / (time.perf_counter() - t2)
            say(f"  {visits.made:>9} appointments ({rate:,.0f}/s), through {day}")
    if visits.made < appointments:
        raise SystemExit(f"Only {visits.made} appointments fitted the grid; raise --providers.")
    writer.execute("CREATE TABLE bench_dataset (key VARCHAR(20) PRIMARY KEY, value TEXT NOT NULL)")
    writer.execute(
        "INSERT INTO bench_dataset VALUES ('params', '" + json.dumps(params) + "'), "
        f"('counts', '{json.dumps(counts)}'), ('first_day', '{first_day}'), ('today', '{TODAY}')"
    )
    writer.finish()
    elapsed = time.perf_counter() - t0
    say("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    say(f"generated in {elapsed:.1f} s ({make_url(url).get_backend_name()}), data from {first_day} to {days[0]}")
    return {"reused": False, "seconds": elapsed, "first_day": first_day, **counts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/NAME")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--providers", type=int, default=40)
    parser.add_argument("--locations", type=int, default=4)
    parser.add_argument("--rooms", type=int, default=10, help="rooms per location")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reset", action="store_true", help="start from an empty database (deletes what is there)")
    args = parser.parse_args()
    generate(args.db, patients=args.patients, appointments=args.appointments, providers=args.providers,
             locations=args.locations, rooms=args.rooms, seed=args.seed, reset=args.reset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
