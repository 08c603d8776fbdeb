"""The chart's round trip: a code or measure edit on a tablet, from the event sent to the delta received.

What is measured
    A clinician's chart (/chart) with a busy day open: 13 visits today and, on the visit
    being charted, a patient with a 40-item record (10 problems, 6 allergies, 10
    medications, 6 goals, 6 exercises, 2 attachments; bench/chart_seed.py). Per sample
    the time from sending one event to receiving the delta that answers it:
    - code edit: ``CodesSection.add_diagnosis`` then ``remove_diagnosis`` (each a sample):
      the service's write, the Codes & billing section reloading itself (diagnoses,
      procedures, unit warnings, the problem-list suggestions) and the Sign bar's blockers;
    - measure edit: ``MeasuresSection.score_measure`` (NPRS, after choosing it and typing
      the score, which are not timed): the score stored, the Measures section reloaded
      (every result with its trend).
    Each edit reloads its own section only (ARCHITECTURE.md, "Screen state"): the delta
    size per edit is printed too, and which states it touched.

How
    1. A fresh SQLite database in a temp dir gets the demo clinic (``python -m clinic_app
       demo``) and the busy day (bench/chart_seed.py, a clinician of its own).
    2. The app starts the way ``make run`` does (``reflex run --env prod --single-port``,
       one worker, in-memory states; bench/live_latency.App), stopped with SIGINT at the end.
    3. One simulated tablet (bench/live_latency.Browser: Reflex's socket protocol, signed in
       by the session cookie) opens /chart, waits for the day's 13 visits, opens the visit,
       then sends the edits one at a time, each after the previous answer.

The client runs on the same machine as the server (2 shared cores here): the figures
include its own CPU time and whatever else runs meanwhile (the load average is printed).

Usage (from the project root):
    .venv/bin/python bench/chart_round_trip.py                 # 40 samples of each
    .venv/bin/python bench/chart_round_trip.py --samples 100
Exit status: 0 when both p95 are under --budget ms (default 100), 1 when not, 2 if the set-up failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on sys.path, the project is not
    sys.path.insert(0, str(ROOT))

from bench.live_latency import App, BenchError, Browser, LeanSocket, free_port, load_demo, new_session_tokens  # noqa: E402

CHART_PATH = "/chart"
VISIT = 5  # today's visit whose patient has the 40-item record (bench/chart_seed.py)


class Tablet(Browser):
    """The clinician's chart: keeps every state's vars and hands each update to a waiter."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.vars: dict[str, dict] = {}
        self.updates: asyncio.Queue = asyncio.Queue()

    def on_delta(self, delta: dict, now: float) -> None:
        for state, values in delta.items():
            self.vars.setdefault(state, {}).update(values)
        if delta:
            self.updates.put_nowait((now, delta))

    def get(self, state: str, name: str):
        return self.vars.get(state, {}).get(self.names.var(name))

    async def until(self, what: str, predicate, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"The chart did not show {what} within {timeout:.0f} s.")
            try:
                await asyncio.wait_for(self.updates.get(), left)
            except TimeoutError:
                continue

    async def round_trip(self, event: str, payload: dict, answered) -> tuple[float, int, set[str]]:
        """Send ``event``; the time until the delta for which ``answered(delta)`` holds, its size
        in bytes and the states it touched."""
        while not self.updates.empty():
            self.updates.get_nowait()
        sent = time.perf_counter()
        await self.send(event, payload)
        size, states = 0, set()
        while True:
            now, delta = await asyncio.wait_for(self.updates.get(), 30)
            size += len(json.dumps(delta))
            states |= set(delta)
            if answered(delta):
                return (now - sent) * 1000, size, states


def state_names() -> dict[str, str]:
    from clinic_app.state.chart import ChartState
    from clinic_app.state.chart_codes import CodesSection
    from clinic_app.state.chart_measures import MeasuresSection
    from clinic_app.state.chart_record import RecordSection

    return {"chart": ChartState.get_full_name(), "codes": CodesSection.get_full_name(),
            "measures": MeasuresSection.get_full_name(), "record": RecordSection.get_full_name()}


def short(state: str) -> str:
    return state.rsplit(".", 1)[-1].split("____")[-1]


async def measure(base_url: str, token: str, samples: int) -> dict[str, list]:
    from bench.live_latency import reflex_names

    names, states = reflex_names(), state_names()
    tablet = Tablet(base_url, names, CHART_PATH, token)
    await tablet.connect()
    try:
        chart, codes, measures = states["chart"], states["codes"], states["measures"]
        await tablet.until("the day's 13 visits", lambda: len(tablet.get(chart, "visits") or []) >= 13)
        visit = tablet.get(chart, "visits")[VISIT]["id"]
        await tablet.send(f"{chart}.open_visit", {"appointment_id": visit, "edits": {}})
        await tablet.until("the visit open", lambda: tablet.get(chart, "appointment_id") == visit
                           and tablet.get(codes, "diagnoses") is not None)
        record = tablet.vars.get(states["record"], {})
        problems = sum(len(record.get(names.var(k)) or []) for k in ("problems", "allergies", "medications", "attachments"))
        out: dict[str, list] = {"code": [], "measure": [], "code_bytes": [], "measure_bytes": [],
                                "code_states": set(), "measure_states": set(), "problems": problems}

        def has(code: str, present: bool):
            def check(delta: dict) -> bool:
                rows = delta.get(codes, {}).get(names.var("diagnoses"))
                return rows is not None and any(r["code"] == code for r in rows) == present
            return check

        for i in range(samples):
            for event, present in (("add_diagnosis", True), ("remove_diagnosis", False)):
                ms, size, touched = await tablet.round_trip(f"{codes}.{event}", {"code": "M25.561"}, has("M25.561", present))
                if tablet.get(codes, "message_is_error"):
                    raise BenchError(f"{event} was refused: {tablet.get(codes, 'message')!r}")
                out["code"].append(ms)
                out["code_bytes"].append(size)
                out["code_states"] |= touched
            await tablet.send(f"{measures}.choose_measure", {"code": "NPRS"})
            await tablet.until("NPRS to fill in", lambda: tablet.get(measures, "measure_code") == "NPRS")
            score = str(i % 11)
            await tablet.send(f"{measures}.set_measure_value", {"index": 0, "value": score})
            await tablet.until("the score typed", lambda s=score: (tablet.get(measures, "measure_rows") or [{}])[0]
                               .get("value") == s)
            ms, size, touched = await tablet.round_trip(
                f"{measures}.score_measure", {},
                lambda delta: names.var("measure_results") in delta.get(measures, {}))
            if tablet.get(measures, "message_is_error"):
                raise BenchError(f"score_measure was refused: {tablet.get(measures, 'message')!r}")
            out["measure"].append(ms)
            out["measure_bytes"].append(size)
            out["measure_states"] |= touched
        return out
    finally:
        await tablet.close()
        await LeanSocket.close_session()


def p95(values: list[float]) -> float:
    """The 95th percentile by nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--samples", type=int, default=40, help="rounds; each gives 2 code edits and 1 measure edit")
    parser.add_argument("--budget", type=float, default=100.0, help="the p95 to meet, in ms (default 100)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, app log)")
    parser.add_argument("--start-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    from clinic_app.db import make_engine
    from clinic_app.models import User

    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f} (1 min) before")
    tmp = Path(tempfile.mkdtemp(prefix="clinic-chart-bench-"))
    app = None
    try:
        database_url = f"sqlite:///{tmp / 'clinic.db'}"
        os.environ["DATABASE_URL"] = database_url  # nothing here may touch the project's database
        load_demo(database_url, tmp / "demo.log")
        engine = make_engine(database_url)
        from sqlmodel import Session, select

        from bench.chart_seed import seed_chart_day

        day = seed_chart_day(engine, username="bench.chart")
        with Session(engine) as s:
            user_id = s.exec(select(User.id).where(User.username == day.username)).one()
        (token,) = new_session_tokens(engine, user_id, 1)
        app = App(free_port(3300), database_url, tmp)
        print(f"starting the app on port {app.port} ...", flush=True)
        app.start(args.start_timeout)
        out = asyncio.run(measure(f"http://127.0.0.1:{app.port}", token, args.samples))
    except BenchError as exc:
        print(f"set-up failed: {exc}", file=sys.stderr)
        if app is not None:
            print(app.tail(), file=sys.stderr)
        return 2
    finally:
        if app is not None:
            app.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept: {tmp}")
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) after")
    print(f"day: 13 visits; the visit's patient: a 40-item record ({out['problems']} problems, allergies, medications "
          "and attachments on the Record section, with 6 goals and 6 exercises on Plan & HEP)")
    print(f"{'edit':<10}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'delta KB':>10}  states in its deltas")
    ok = True
    for kind in ("code", "measure"):
        values = out[kind]
        kb = statistics.median(out[f"{kind}_bytes"]) / 1024
        states = ", ".join(sorted(short(s) for s in out[f"{kind}_states"]))
        print(f"{kind:<10}{len(values):>5}{statistics.median(values):>9.1f}{p95(values):>9.1f}{max(values):>9.1f}{kb:>10.1f}"
              f"  {states}")
        ok = ok and p95(values) < args.budget
    print(f"p95 under {args.budget:g} ms for both: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
