"""KPI dashboard load at production size: every tile's query timed, against the same
aggregate written by hand in SQL.

What is measured
    On a clinic made by bench/generate.py (1,000,000 appointments by default), for the
    month and the year that end on the data's "today" (all locations; ``--location`` to
    narrow): ``services.kpi.compute_range_kpis`` (the whole dashboard, as KpiState loads
    it) and each tile function of services.kpi on its own, wall-clock in the process
    (SQLAlchemy and the driver included). Beside each tile, the same aggregate written by
    hand as one SQL text per query, run through the same connection, so that the ratio
    tile / hand shows what the service adds on top of the database's own work.
    Each is run ``--runs`` times after one warm-up; p50, p95 (nearest rank) and max. A
    query slower than 3 s is run once (its p50 = p95 = max is that run).

Usage
    python bench/scale_kpi.py --db sqlite:///bench/data/clinic_bench.db
    python bench/scale_kpi.py --db postgresql+psycopg://postgres@127.0.0.1:5432/clinic_bench --runs 10
    python bench/scale_kpi.py --db URL --payer 2   # the dashboard's payer filter

Targets (issue 7): every dashboard query under 200 ms, and within 1.5x of the hand SQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlmodel import Session

from bench.scale_common import dataset_today, figures, header, open_engine
from clinic_app.services.kpi import kpi

ATTENDED = "('arrived', 'in_session', 'ready_to_bill', 'billed')"
COMPLETED = "('ready_to_bill', 'billed')"
HELD = "('booked', 'arrived', 'in_session', 'ready_to_bill', 'billed')"


class Hand:
    """The tiles' aggregates as SQL text, for one scope (its per-location UTC bounds)."""

    def __init__(self, scope, dialect: str):
        self.scope, self.dialect = scope, dialect
        self.params: dict = {}
        self.f = scope.filters

    def p(self, value) -> str:
        """A bound parameter (UTC instants as the database stores them)."""
        name = f"p{len(self.params)}"
        if isinstance(value, dt.datetime) and self.dialect == "sqlite":
            value = value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
            value = value if len(value) > 19 else value + ".000000"
        self.params[name] = value
        return f":{name}"

    def minutes(self, later: str, earlier: str) -> str:
        if self.dialect == "sqlite":
            return f"(julianday({later}) - julianday({earlier})) * 1440.0"
        return f"extract(epoch FROM {later} - {earlier}) / 60.0"

    def in_range(self, column: str, location: str = "a.location_id", *, before_end_only: bool = False) -> str:
        """Each location's own bounds, and around them the earliest start and latest end
        (so that an index on ``column`` bounds the scan: the OR alone cannot)."""
        parts = []
        for lid, (s, e) in self.scope.bounds.items():
            low = "" if before_end_only else f" AND {column} >= {self.p(s)}"
            parts.append(f"({location} = {lid}{low} AND {column} < {self.p(e)})")
        if before_end_only:  # everything before the end: an index would only add random reads
            return "(" + " OR ".join(parts) + ")"
        starts = [s for s, _ in self.scope.bounds.values()]
        ends = [e for _, e in self.scope.bounds.values()]
        envelope = f"{column} >= {self.p(min(starts))} AND {column} < {self.p(max(ends))}"
        return f"({envelope} AND (" + " OR ".join(parts) + "))"

    def visits(self, *, by_payer: bool = True) -> str:
        where = self.in_range("a.starts_at")
        if self.f.provider_id:
            where += f" AND a.provider_id = {int(self.f.provider_id)}"
        if by_payer and self.f.payer_id:
            where += f" AND ({self.visit_payer()})"
        return where

    def local_date(self, column: str, tz: str) -> str:
        if self.dialect == "sqlite":
            return f"clinic_local_date({column}, {tz})"
        return f"(timezone({tz}, {column}))::date"

    def visit_payer(self) -> str:
        """The visit's payer: the patient's active primary coverage on the visit's local day (the
        zone by a CASE on the location: an OR per location makes SQLite read every visit)."""
        zones = " ".join(f"WHEN {lid} THEN '{tz}'" for lid, tz in self.scope.zones.items())
        day = self.local_date("a.starts_at", f"CASE a.location_id {zones} END")
        # (as EXISTS with the payer inside, SQLite read the payer's every coverage per visit)
        return (f"(SELECT v.payer_id FROM coverage v WHERE v.patient_id = a.patient_id AND v.priority = 1 AND v.active"
                f" AND v.effective_from <= {day} AND (v.effective_to IS NULL OR v.effective_to >= {day})"
                f" ORDER BY v.effective_from DESC LIMIT 1) = {int(self.f.payer_id)}")

    def payer(self, column: str) -> str:
        return f" AND {column} = {int(self.f.payer_id)}" if self.f.payer_id else ""

    def ledger_when(self, *, before_end_only: bool = False) -> str:
        parts = [f"(a.location_id = {lid}{'' if before_end_only else f' AND l.created_at >= {self.p(s)}'}"
                 f" AND l.created_at < {self.p(e)})" for lid, (s, e) in self.scope.bounds.items()]
        bounds = list(self.scope.bounds.values())
        if self.scope.home is not None:
            s, e = self.scope.home
            low = "" if before_end_only else f"l.created_at >= {self.p(s)} AND "
            parts.append(f"(l.appointment_id IS NULL AND {low}l.created_at < {self.p(e)})")
            bounds.append(self.scope.home)
        if before_end_only:  # everything before the end: an index would only add random reads
            return "(" + " OR ".join(parts) + ")"
        envelope = f"l.created_at >= {self.p(min(s for s, _ in bounds))} AND l.created_at < {self.p(max(e for _, e in bounds))}"
        return f"({envelope} AND (" + " OR ".join(parts) + "))"

    # One method per tile: a list of SQL texts (the tile's queries).
    def visit_counts(self) -> list[str]:
        return [f"""SELECT count(*),
            sum(CASE WHEN a.status IN {COMPLETED} THEN 1 ELSE 0 END),
            sum(CASE WHEN a.status IN {ATTENDED} THEN 1 ELSE 0 END),
            sum(CASE WHEN a.status = 'no_show' THEN 1 ELSE 0 END),
            sum(CASE WHEN a.status = 'cancelled' AND a.late_cancel THEN 1 ELSE 0 END),
            sum(CASE WHEN a.status = 'cancelled' AND NOT a.late_cancel THEN 1 ELSE 0 END)
            FROM appointment a WHERE {self.visits()}"""]

    def utilisation(self) -> list[str]:  # the payer filter does not apply (services.kpi.utilisation)
        length = self.minutes("a.ends_at", "a.starts_at")
        locations = ", ".join(str(lid) for lid in self.scope.zones)
        return [
            f"SELECT a.provider_id, sum({length}) FROM appointment a WHERE {self.visits(by_payer=False)} AND a.status IN {HELD} "
            "GROUP BY a.provider_id",
            f"SELECT a.room_id, sum({length}) FROM appointment a WHERE {self.visits(by_payer=False)} AND a.status IN {HELD} "
            "AND a.room_id IS NOT NULL GROUP BY a.room_id",
            "SELECT h.provider_id, h.weekday, h.start_minute, h.end_minute FROM provider_hours h "
            f"JOIN provider p ON p.id = h.provider_id WHERE p.location_id IN ({locations})",
        ]

    def new_patients(self) -> list[str]:
        return [f"""SELECT count(*) FROM appointment a WHERE {self.visits()} AND a.status IN {ATTENDED}
            AND NOT EXISTS (SELECT 1 FROM appointment e WHERE e.patient_id = a.patient_id AND e.status IN {ATTENDED}
              AND (e.starts_at < a.starts_at OR (e.starts_at = a.starts_at AND e.id < a.id)))"""]

    def visits_per_case(self) -> list[str]:
        return [f"""SELECT count(*), count(DISTINCT cv.case_id) FROM appointment a
            JOIN case_visit cv ON cv.appointment_id = a.id WHERE {self.visits()} AND a.status IN {ATTENDED}"""]

    def wait_time(self) -> list[str]:
        return [f"""SELECT count(*), sum({self.minutes("a.session_started_at", "a.arrived_at")}) FROM appointment a
            WHERE {self.visits()} AND a.arrived_at IS NOT NULL AND a.session_started_at IS NOT NULL"""]

    def documentation_lag(self) -> list[str]:
        lag = self.minutes("n.signed_at", "a.ends_at")
        return [f"""SELECT count(*), sum(CASE WHEN {lag} < 0 THEN 0 ELSE {lag} END) FROM appointment a
            JOIN note n ON n.appointment_id = a.id WHERE {self.visits()} AND n.signed_at IS NOT NULL"""]

    def charges(self) -> list[str]:
        return [f"""SELECT coalesce(sum(c.amount_cents), 0) FROM charge c JOIN appointment a ON a.id = c.appointment_id
            WHERE {self.visits()}"""]

    def _ledger(self, kinds: str, *, before_end_only: bool = False) -> str:
        kind = f"l.kind IN {kinds} AND " if kinds else ""
        return f"""SELECT coalesce(sum(l.amount_cents), 0) FROM ledger_entry l
            LEFT JOIN appointment a ON a.id = l.appointment_id WHERE {kind}{self.ledger_when(before_end_only=before_end_only)}{self.payer("l.payer_id")}"""

    def _billed(self, start: dt.date, end: dt.date) -> str:
        join = where = ""
        if self.f.location_id or self.f.provider_id:
            join = " LEFT JOIN appointment a ON a.id = l.appointment_id"
            where = (f" AND a.location_id = {int(self.f.location_id)}" if self.f.location_id else "") + (
                f" AND a.provider_id = {int(self.f.provider_id)}" if self.f.provider_id else "")
        return (f"SELECT coalesce(sum(l.amount_cents), 0) FROM ledger_entry l{join} WHERE l.kind = 'charge' "
                f"AND l.service_date >= {self.p(start)} AND l.service_date <= {self.p(end)}{where}{self.payer('l.payer_id')}")

    def payments(self) -> list[str]:
        return [self._ledger("('payment', 'refund')")]

    def collection(self) -> list[str]:
        return [self._billed(self.f.start, self.f.end), self._ledger("('adjustment')")]

    def ar_days(self) -> list[str]:
        return [self._ledger("", before_end_only=True),
                self._billed(self.f.end - dt.timedelta(days=kpi.AR_DAYS_WINDOW - 1), self.f.end)]

    def clean_claims(self) -> list[str]:
        return [f"""SELECT count(ans.to_status), coalesce(sum(CASE WHEN ans.to_status IN ('accepted', 'paid') THEN 1 ELSE 0 END), 0),
              count(*)
            FROM claim_event f JOIN claim c ON c.id = f.claim_id JOIN appointment a ON a.id = c.appointment_id
            LEFT JOIN claim_event ans ON ans.id = (SELECT min(x.id) FROM claim_event x WHERE x.claim_id = f.claim_id AND x.id > f.id)
            WHERE f.to_status = 'submitted' AND {self.in_range("f.at")}{self.payer("c.payer_id")}
              AND NOT EXISTS (SELECT 1 FROM claim_event e WHERE e.claim_id = f.claim_id AND e.to_status = 'submitted' AND e.id < f.id)"""]

    def denials(self) -> list[str]:
        return [f"""SELECT count(*), coalesce(sum(d), 0) FROM (
              SELECT c.id, max(CASE WHEN e.to_status = 'denied' THEN 1 ELSE 0 END) AS d
              FROM claim_event e JOIN claim c ON c.id = e.claim_id JOIN appointment a ON a.id = c.appointment_id
              WHERE e.to_status IN ('paid', 'denied') AND {self.in_range("e.at")}{self.payer("c.payer_id")} GROUP BY c.id) AS adjudicated"""]

    def visits_by_period(self) -> list[str]:
        hour = ("strftime('%Y-%m-%d %H', a.starts_at)" if self.dialect == "sqlite"
                else "to_char(timezone('UTC', a.starts_at), 'YYYY-MM-DD HH24')")
        return [f"""SELECT a.location_id, {hour} AS hour, sum(CASE WHEN a.status IN {COMPLETED} THEN 1 ELSE 0 END),
              sum(CASE WHEN a.status IN {ATTENDED} THEN 1 ELSE 0 END), sum(CASE WHEN a.status = 'no_show' THEN 1 ELSE 0 END)
            FROM appointment a WHERE {self.visits()} GROUP BY a.location_id, hour"""]


def _tiles(session: Session, filters: kpi.KpiFilters):
    """(name, run the tile function) for every tile compute_range_kpis calls."""
    scope = kpi._scope(session, filters)
    return scope, [
        ("visit counts", lambda: kpi.visit_counts(session, scope)),
        ("utilisation", lambda: kpi.utilisation(session, scope)),
        ("new patients", lambda: kpi.new_patients(session, scope)),
        ("visits per case", lambda: kpi.visits_per_case(session, scope)),
        ("wait time", lambda: kpi.wait_time(session, scope)),
        ("documentation lag", lambda: kpi.documentation_lag(session, scope)),
        ("charges", lambda: kpi.charges(session, scope)),
        ("payments", lambda: kpi.payments(session, scope)),
        ("collection", lambda: kpi.collection(session, scope, 1)),
        ("AR days", lambda: kpi.ar_days(session, filters)),
        ("clean claims", lambda: kpi.clean_claims(session, scope)),
        ("denials", lambda: kpi.denials(session, scope)),
        ("visits by period", lambda: kpi.visits_by_period(session, scope)),
    ]


SLOW_MS = 3000

HAND = {
    "visit counts": "visit_counts", "utilisation": "utilisation", "new patients": "new_patients",
    "visits per case": "visits_per_case", "wait time": "wait_time", "documentation lag": "documentation_lag",
    "charges": "charges", "payments": "payments", "collection": "collection", "AR days": "ar_days",
    "clean claims": "clean_claims", "denials": "denials", "visits by period": "visits_by_period",
}


def _time(fn, runs: int) -> list[float]:
    start = time.perf_counter()
    fn()  # warm-up
    first = (time.perf_counter() - start) * 1000
    if first > SLOW_MS:
        return [first]  # too slow to repeat on a shared machine: the one run is the figure
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def bench(engine, label: str, filters: kpi.KpiFilters, runs: int) -> tuple[float, float]:
    """Print one range's table; return the worst tile p95 and the worst ratio."""
    print(f"\n{label}: {filters.start} to {filters.end}" + (f", location {filters.location_id}" if filters.location_id else ", all locations")
          + (f", payer {filters.payer_id}" if filters.payer_id else ""))
    print(f"{'query':<20} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'hand p50':>9} {'hand p95':>9} {'ratio p50':>9}")
    worst_p95 = worst_ratio = 0.0
    with Session(engine) as session:
        scope, tiles = _tiles(session, filters)
        conn = session.connection()
        for name, run in tiles:
            hand = Hand(scope, engine.dialect.name)
            statements = [text(sql) for sql in getattr(hand, HAND[name])()]

            def by_hand(statements=statements, params=hand.params):
                for statement in statements:
                    conn.execute(statement, params).all()

            p50, p95, top = figures(_time(run, runs))
            h50, h95, _ = figures(_time(by_hand, runs))
            ratio = p50 / h50 if h50 else float("nan")
            worst_p95, worst_ratio = max(worst_p95, p95), max(worst_ratio, ratio)
            print(f"{name:<20} {p50:8.1f} {p95:8.1f} {top:8.1f} {h50:9.1f} {h95:9.1f} {ratio:9.2f}")
        p50, p95, top = figures(_time(lambda: kpi.compute_range_kpis(session, filters), max(3, runs // 2)))
        print(f"{'whole dashboard':<20} {p50:8.1f} {p95:8.1f} {top:8.1f}")
    return worst_p95, worst_ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a database made by bench/generate.py")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--location", type=int, help="narrow to one location id")
    parser.add_argument("--payer", type=int, help="narrow to one payer id (the visit's payer: primary coverage on its day)")
    args = parser.parse_args()
    engine = open_engine(args.db)
    today = dataset_today(engine)
    print(header(engine, "KPI dashboard (services.kpi) vs the same aggregates by hand"))
    worst_p95 = worst_ratio = 0.0
    for label, start in (("month", today - dt.timedelta(days=29)), ("year", today - dt.timedelta(days=364))):
        p95, ratio = bench(engine, label, kpi.KpiFilters(start, today, location_id=args.location, payer_id=args.payer), args.runs)
        worst_p95, worst_ratio = max(worst_p95, p95), max(worst_ratio, ratio)
    print(f"\nworst tile p95 {worst_p95:.1f} ms (target < 200 ms); worst ratio to hand SQL {worst_ratio:.2f} (target <= 1.5)")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
