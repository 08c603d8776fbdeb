"""Live push latency: a change at the desk or on a tablet, how soon does every board show it?

What is measured
    For each kind of change, the time from the acting screen sending its event to each of N
    open reception boards receiving the delta that carries the changed visit:
      sign      a clinician's tablet sends ``ChartState.sign`` (the visit turns ready to bill)
      check-in  a desk sends ``VisitSection.check_in``
      move      a desk drops a card on another provider's column (``MoveSection.drop``, the
                drag's event), the board then shows it there
      book      a desk presses Book (``BookingSection.book``) after choosing the patient and slot
      cancel    a desk confirms a cancellation with its reason (``VisitSection.confirm_release``)
    That covers the whole live spine of the real app: the handler (the service, one
    transaction), the bus (in-process, or Redis pub/sub with several workers), the listener's
    fan-out (``state/live_push.py``: one card query per event; the visit's newest row goes into
    the worker's shared overlay of that day and is written, encoded once, on every board's
    socket; no board's state is touched) and the socket writes.
    Per N and kind the benchmark prints p50/p95/max over all (change, board) deliveries, how
    many deliveries missed the timeout, the acting screen's own round trip, the size of the
    delta one board gets, the backend's RSS growth per connected board and the CPU time per
    delivery of the app and of the simulated clients (which tells whether the server or this
    process was the bottleneck).

How
    1. A fresh SQLite database in a temp dir gets the demo clinic
       (``python -m clinic_app demo``), then a bench location of its own whose time zone puts
       it at about 09:00 now (so that every change is "today" there, whatever the hour), with
       one provider per kind of change (and one that moves receive and one that bookings go
       to), a desk user and a clinician user of its own. Per run (each N) and kind it gets
       ``--changes`` visits of 10 minutes from 07:00: in session with a SOAP note, one
       diagnosis (M54.50) and one procedure (97110) for signing, booked for the others; each
       with a patient of its own (a patient is never in two visits at once). They are
       inserted with the models (bookings in the past are refused by the service).
    2. The app starts the way ``make run`` does: ``reflex run --env prod --single-port`` on
       127.0.0.1 in its own process group, with env.sh, ``DATABASE_URL`` and a frontend build
       dir of its own in the temp dir (``REFLEX_WEB_WORKDIR``, as tests/e2e does); it is
       stopped with SIGINT to the group at the end, also on error.
    3. Simulated browsers are Socket.IO clients speaking Reflex 0.10.1's protocol: connect to
       ``/_event?token=<uuid4>`` with the boot event ``State.hydrate_and_load`` in the CONNECT
       packet's auth. Sign-in: a session token from ``services.auth.start_session`` travels
       the way the browser sends it, as the HttpOnly ``clinic_session`` cookie in the
       websocket handshake's Cookie header (the session gate, state/sessions.py, reads it from
       there on every event).
    4. N boards (the bench desk user) open /board and must each receive their board (the
       calendar state's ``rows``, with the bench visits) before anything is timed. One desk tab
       (the same user) and one clinician tab (/chart) act. Per change the acting tab does
       what a person does first (opens the visit, picks the patient and the slot...; not
       timed), the time is noted, the timed event is sent, and the round waits until every
       board has the visit's new row (or the timeout) before the next change.
    5. Memory: RSS of the app's whole process tree before the N boards connect and after they
       loaded; the difference / N is the per-board cost.
    6. Production mode (``--workers N`` with N > 1, as ``make run-prod`` runs it): the app
       gets ``REDIS_URL``/``REFLEX_REDIS_URL`` (``--redis-url``, a Redis database the
       benchmark empties first) and ``GRANIAN_WORKERS=N``, so client states live in Redis
       (with rxconfig.py's opportunistic lock) and the live bus is Redis pub/sub; the boards
       spread over the workers by the kernel, and the table says how many each worker held
       (from Reflex's socket records in Redis) and Redis's memory growth per board.
       ``--postgres`` runs on a fresh PostgreSQL database instead of SQLite (created through
       ``--pg-admin-url``, dropped afterwards). ``--app-env NAME=VALUE`` passes a setting to
       the app. Each row also records the machine's 1-minute load average before and after
       its changes: on a shared machine other work inflates the latencies.

The clients run in this process on the same machine as the server, so on a small box
they compete for CPU with it: figures are an upper bound of what browsers would see.

Usage (from the project root; env.sh is sourced for the app by the script itself):
    .venv/bin/python bench/live_latency.py --clients 50,200 --changes 20       # one worker, SQLite (make run)
    .venv/bin/python bench/live_latency.py --clients 1000 --changes 20 --workers 2 --postgres   # make run-prod
    .venv/bin/python bench/live_latency.py --clients 200 --kinds sign,move     # some kinds only
Exit status: 0 if every delivery arrived, 1 if any was missed, 2 if the set-up failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import psutil
import socketio

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on sys.path, the project is not
    sys.path.insert(0, str(ROOT))

BENCH_LOCATION = "Bench Clinic"
BOARD_PATH = "/board"
CHART_PATH = "/chart"
NAMESPACE = "/_event"
DIAGNOSIS = "M54.50"
PROCEDURE = "97110"
BENCH_CLINICIAN = "bench.clinician"
BENCH_DESK = "bench.desk"
VISIT_MINUTES = 10
FIRST_VISIT = 7 * 60  # the sources of each kind's changes, from 07:00 on
FIRST_TARGET = 13 * 60  # where moves and bookings go, from 13:00 on (the bench clinic's morning is now)
KINDS = ("sign", "check-in", "move", "book", "cancel")
CONNECT_BATCH = 20  # boards connecting at once (a clinic opening its screens)


class BenchError(Exception):
    """The set-up did not work; the message says what to look at."""


# -- Reflex names ---------------------------------------------------------------------
@dataclass(frozen=True)
class Names:
    """The state and event names the compiled frontend uses, taken from the app's classes."""

    hydrate_event: str
    cookie_name: str
    calendar: str
    chart: str
    visit: str  # the board's visit panel (check in, cancel)
    booking: str
    move: str
    marker: str  # Reflex's suffix of var names in deltas

    def var(self, name: str) -> str:
        return name + self.marker


def reflex_names() -> Names:
    from reflex.state import State
    from reflex_base.constants import CompileVars
    from reflex_base.constants.state import FIELD_MARKER

    from clinic_app.state.auth import SESSION_COOKIE
    from clinic_app.state.booking import BookingSection
    from clinic_app.state.calendar import CalendarState
    from clinic_app.state.chart import ChartState
    from clinic_app.state.move import MoveSection
    from clinic_app.state.visit import VisitSection

    for state, handlers in ((ChartState, ("open_visit", "sign", "load")), (CalendarState, ("select",)),
                            (VisitSection, ("check_in", "ask_release", "set_reason", "confirm_release")),
                            (BookingSection, ("open", "set_type", "search_patients", "choose_patient", "book")),
                            (MoveSection, ("drop",))):
        for handler in handlers:
            if handler not in state.event_handlers:
                raise BenchError(f"{state.__name__} has no event handler {handler!r}; update the benchmark.")
    return Names(
        hydrate_event=f"{State.get_full_name()}.{CompileVars.HYDRATE_AND_LOAD}",
        cookie_name=SESSION_COOKIE,
        calendar=CalendarState.get_full_name(),
        chart=ChartState.get_full_name(),
        visit=VisitSection.get_full_name(),
        booking=BookingSection.get_full_name(),
        move=MoveSection.get_full_name(),
        marker=FIELD_MARKER,
    )


def check_compiled(names: Names, web_dir: Path) -> None:
    """The compiled frontend must send the same boot event and cookie key as the clients here."""
    context = web_dir / "utils" / "context.jsx"
    if not context.exists():
        raise BenchError(f"{context} is missing after the app started; cannot verify the event names.")
    text = context.read_text()
    for what, needle in (
        ("boot event", f"'{names.hydrate_event}'"),
        ("calendar state", f'"{names.calendar}"'),
        ("chart state", f'"{names.chart}"'),
    ):
        if needle not in text:
            raise BenchError(f"The compiled frontend ({context}) does not contain the {what} {needle}.")


# -- the database -------------------------------------------------------------------------
@dataclass
class Prepared:
    """The bench clinic: its providers, users and, per run and kind, the visits to change."""

    location_id: int
    tz: str
    today: str
    desk_id: int
    clinician_id: int
    providers: dict[str, int]  # kind (and "moved", "booked": where moves and bookings go) -> provider id
    visits: list[dict[str, list[int]]]  # per run: kind -> appointment ids (book: patient ids)
    type_id: int = 0  # the bench's 10-minute appointment type
    booked_patients: dict[int, str] = field(default_factory=dict)  # patient id -> the name typed to find them


def shell_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def in_project_env(cmd: list[str]) -> list[str]:
    """``cmd`` run by bash after sourcing env.sh (bun, REFLEX_* settings), exec'd in place."""
    return ["bash", "-c", f"source ./env.sh && exec {shlex.join(cmd)}"]


def load_demo(database_url: str, log: Path) -> None:
    with log.open("w") as out:
        done = subprocess.run(
            in_project_env([sys.executable, "-m", "clinic_app", "demo"]),
            cwd=ROOT, env=shell_env(database_url), stdout=out, stderr=subprocess.STDOUT, timeout=300, check=False,
        )
    if done.returncode != 0:
        raise BenchError(f"`python -m clinic_app demo` failed (exit {done.returncode}); see {log}:\n{log.read_text()[-2000:]}")


def _zone_at_nine() -> str:
    """A fixed-offset zone in which it is now between 09:00 and 10:00 (as tests/e2e does)."""
    offset = (9 - dt.datetime.now(dt.UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def prepare_bench(engine, changes: int, runs: int, kinds: tuple[str, ...]) -> Prepared:
    """The bench clinic with ``changes`` visits per run and kind (see the module's docstring)."""
    from sqlmodel import select

    from clinic_app.db import session_scope
    from clinic_app.models import (
        Appointment,
        AppointmentType,
        Location,
        Note,
        NoteDiagnosis,
        NoteProcedure,
        Patient,
        Provider,
    )
    from clinic_app.services.platform import auth
    from clinic_app.services.platform.clock import zone

    if changes * runs * VISIT_MINUTES > FIRST_TARGET - FIRST_VISIT + 6 * 60:
        raise BenchError(f"{changes * runs} changes of each kind do not fit on one bench day; use fewer.")
    tz = _zone_at_nine()
    with session_scope(engine) as session:
        location = Location(name=BENCH_LOCATION, timezone=tz)
        session.add(location)
        session.flush()
        providers = {}
        for kind in (*KINDS, "moved", "booked"):
            provider = Provider(name=f"Bench {kind.title()}, PT", discipline="physiotherapy", location_id=location.id)
            session.add(provider)
            session.flush()
            providers[kind] = provider.id
        kind_row = AppointmentType(name="Bench visit", duration_minutes=VISIT_MINUTES, color="gray")
        session.add(kind_row)
        session.flush()
        desk = auth.create_user(session, actor=None, username=BENCH_DESK, full_name="Bench Desk",
                                password=secrets.token_urlsafe(16), role="reception", location_id=location.id)
        clinician = auth.create_user(session, actor=None, username=BENCH_CLINICIAN, full_name="Bench Clinician",
                                     password=secrets.token_urlsafe(16), role="clinician",
                                     provider_id=providers["sign"], location_id=location.id)
        today = dt.datetime.now(zone(tz)).date()
        first = dt.datetime.combine(today, dt.time(0), tzinfo=zone(tz))
        visits: list[dict[str, list[int]]] = [{kind: [] for kind in kinds} for _ in range(runs)]
        booked: dict[int, str] = {}
        number = 0
        for run in range(runs):
            for kind in kinds:
                for i in range(changes):
                    number += 1
                    patient = Patient(mrn=f"BENCH{number:05d}", first_name="Bench",
                                      last_name=f"Patient{number}", birth_date=dt.date(1980, 1, 1))
                    session.add(patient)
                    session.flush()
                    if kind == "book":  # booked by the desk during the run
                        visits[run][kind].append(patient.id)
                        booked[patient.id] = patient.last_name
                        continue
                    starts = first + dt.timedelta(minutes=FIRST_VISIT + (run * changes + i) * VISIT_MINUTES)
                    signing = kind == "sign"
                    appointment = Appointment(
                        patient_id=patient.id, provider_id=providers[kind], location_id=location.id, room_id=None,
                        appointment_type_id=kind_row.id, starts_at=starts.astimezone(dt.UTC),
                        ends_at=(starts + dt.timedelta(minutes=VISIT_MINUTES)).astimezone(dt.UTC),
                        status="in_session" if signing else "booked",
                        arrived_at=(starts - dt.timedelta(minutes=5)).astimezone(dt.UTC) if signing else None,
                        session_started_at=starts.astimezone(dt.UTC) if signing else None,
                    )
                    session.add(appointment)
                    session.flush()
                    if signing:
                        note = Note(
                            appointment_id=appointment.id, patient_id=patient.id, provider_id=providers[kind],
                            subjective="Low back pain 4/10, better than last week.",
                            objective="Lumbar flexion improved.", assessment="Progressing.",
                            plan="Continue home exercises.",
                        )
                        session.add(note)
                        session.flush()
                        session.add_all([NoteDiagnosis(note_id=note.id, code=DIAGNOSIS),
                                         NoteProcedure(note_id=note.id, code=PROCEDURE, units=1)])
                    visits[run][kind].append(appointment.id)
        if session.exec(select(Location).where(Location.name == BENCH_LOCATION)).one().id != location.id:
            raise BenchError("Two bench locations: the database was not fresh.")
        return Prepared(location_id=location.id, tz=tz, today=today.isoformat(), desk_id=desk.id,
                        clinician_id=clinician.id, providers=providers, visits=visits, type_id=kind_row.id,
                        booked_patients=booked)


def new_session_tokens(engine, user_id: int, count: int) -> list[str]:
    """``count`` sign-in tokens for one user, as if each screen had signed in."""
    from clinic_app.db import session_scope
    from clinic_app.models import User
    from clinic_app.services.platform import auth

    with session_scope(engine) as session:
        user = session.get(User, user_id)
        return [auth.start_session(session, user=user) for _ in range(count)]


# -- production mode: PostgreSQL, Redis, several workers -----------------------------------
def create_postgres_database(admin_url: str) -> str:
    """A fresh, empty database of this run on the server of ``admin_url``; returns its URL."""
    from sqlalchemy import create_engine, text

    name = f"clinic_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise BenchError(f"Could not create a PostgreSQL database with {admin_url}: {exc}") from exc
    finally:
        admin.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(admin_url: str, url: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    finally:
        admin.dispose()


def empty_redis(url: str) -> None:
    """The bench's Redis database starts empty (states, locks and socket records of its own)."""
    import redis

    try:
        redis.Redis.from_url(url).flushdb()
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {url} did not answer: {exc}") from exc


def redis_memory(url: str | None) -> int:
    """Redis's used memory in bytes (0 without Redis)."""
    if not url:
        return 0
    import redis

    return int(redis.Redis.from_url(url).info("memory")["used_memory"])


def sockets_per_worker(url: str, tokens: set[str]) -> str:
    """How many of ``tokens``' sockets each backend worker holds, as Reflex records them in Redis."""
    import pickle

    import redis

    client = redis.Redis.from_url(url)
    keys = [f"token_manager_socket_record_{t}" for t in tokens]
    counts: dict[str, int] = {}
    for record in client.mget(keys):
        if record:
            owner = pickle.loads(record).instance_id
            counts[owner] = counts.get(owner, 0) + 1
    return "+".join(str(n) for n in sorted(counts.values(), reverse=True)) or "none"


# -- the app ------------------------------------------------------------------------------
def free_port(start: int) -> int:
    for port in range(start, start + 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free to a server
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchError(f"No free port in {start}-{start + 199}.")


class App:
    """``reflex run --env prod --single-port`` in its own process group."""

    def __init__(self, port: int, database_url: str, work_dir: Path, **extra_env: str) -> None:
        self.port = port
        self.cmd = ["reflex", "run", "--env", "prod", "--single-port", "--frontend-port", str(port),
                    "--backend-host", "127.0.0.1"]
        self.log = work_dir / "app.log"
        # A frontend build of its own (as tests/e2e does), so that the project's .web,
        # which a developer's `make run` or a test may be using, is left alone.
        self.web_dir = work_dir / "web"
        self.env = shell_env(database_url, REFLEX_WEB_WORKDIR=str(self.web_dir),
                             REFLEX_STATES_WORKDIR=str(work_dir / "states"), **extra_env)
        self.proc: subprocess.Popen | None = None
        self.redis_url = extra_env.get("REFLEX_REDIS_URL")

    def start(self, timeout: float) -> float:
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                in_project_env(self.cmd), cwd=ROOT, env=self.env,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise BenchError(f"The app exited with {self.proc.returncode} while starting:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/ping", timeout=2).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.5)
        raise BenchError(f"The app did not answer /ping within {timeout:.0f} s:\n{self.tail()}")

    def rss(self) -> int:
        """Resident memory of the app's whole process tree, in bytes."""
        root = psutil.Process(self.proc.pid)
        total = 0
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time of the app's process tree so far."""
        root = psutil.Process(self.proc.pid)
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def stop(self) -> None:
        """SIGINT to the process group (Ctrl-C), escalating if something of it is still alive."""
        if self.proc is None:
            return
        tree = []
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            tree = [root, *root.children(recursive=True)]
        for sig, wait in ((signal.SIGINT, 20), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            _, alive = psutil.wait_procs(tree, timeout=wait)
            if not alive:
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(1)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


# -- simulated browsers ----------------------------------------------------------------------
@dataclass
class Round:
    """One change: which visit's row each board waits for, and when each board got it."""

    kind: str
    seen_by: "object"  # (row) -> bool: the row shows the change
    expected: int
    sent_at: float = 0.0
    arrived: dict[int, float] = field(default_factory=dict)
    push_bytes: int = 0  # size of the delta that brought the change to board 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def seen(self, client: int, now: float) -> None:
        if client not in self.arrived:
            self.arrived[client] = now
            if len(self.arrived) >= self.expected:
                self.done.set()


class LeanSocket:
    """Socket.IO as Reflex's frontend speaks it, over one aiohttp websocket and nothing more:
    engine.io 4's open, ping and pong, and socket.io's CONNECT and EVENT packets on the
    ``/_event`` namespace. The default simulated browser (``--clients-lib lean``): 500
    python-socketio clients in this one process cost about 0.15 ms of CPU per message
    (packet objects, a task per event), and on 2 cores shared with the app that queue
    delays the last boards' timestamps; a real browser parses its own message on its own
    machine. The timestamp is taken when the frame is read, before its JSON is parsed."""

    # One aiohttp session per event loop: a session is bound to the loop that made it, and
    # the e2e tests run each scenario in a fresh ``asyncio.run``.
    _sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, on_event) -> None:
        self.on_event = on_event
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task | None = None
        self.connected = asyncio.Event()
        self.error = ""

    async def connect(self, base_url: str, query: str, headers: dict, auth: dict, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        session = LeanSocket._sessions.get(loop)
        if session is None or session.closed:
            # No cap on connections: each board holds one (aiohttp's default cap is 100).
            session = LeanSocket._sessions[loop] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        url = f"{base_url.replace('http', 'ws', 1)}{NAMESPACE}/?{query}&transport=websocket&EIO=4"
        try:
            self.ws = await asyncio.wait_for(session.ws_connect(url, headers=headers, max_msg_size=0), timeout)
            opening = await self.ws.receive_str(timeout=timeout)
            if not opening.startswith("0"):
                raise BenchError(f"engine.io did not open: {opening[:80]}")
            await self.ws.send_str(f"40{NAMESPACE}," + json.dumps(auth))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BenchError(f"A simulated browser could not connect to {url}: {exc!r}") from exc
        self.reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self.connected.wait(), timeout)
        if self.error:
            raise BenchError(f"The app refused a simulated browser: {self.error}")

    async def _read(self) -> None:
        event_prefix = f"42{NAMESPACE},"
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = message.data
            if data.startswith(event_prefix):
                now = time.perf_counter()
                name, *args = json.loads(data[len(event_prefix):])
                if name == "event" and args:
                    self.on_event(args[0], now)
            elif data == "2":
                await self.ws.send_str("3")
            elif data.startswith(f"40{NAMESPACE}"):
                self.connected.set()
            elif data.startswith(f"44{NAMESPACE}"):
                self.error = data
                self.connected.set()

    async def emit(self, data: dict) -> None:
        await self.ws.send_str(f"42{NAMESPACE}," + json.dumps(["event", data]))

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(BaseException):
                await self.reader

    @classmethod
    async def close_session(cls) -> None:
        session = cls._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()


CLIENTS_LIB = "lean"  # or "python-socketio" (--clients-lib)


class Browser:
    """One tab: a Reflex socket on one page, signed in through the session cookie."""

    def __init__(self, base_url: str, names: Names, path: str, session_token: str) -> None:
        self.base_url = base_url
        self.names = names
        self.path = path
        self.session_token = session_token
        self.client_token = str(uuid.uuid4())
        self.redirects: list[str] = []
        if CLIENTS_LIB == "lean":
            self.lean: LeanSocket | None = LeanSocket(self._on_update)
        else:
            self.lean = None
            self.sio = socketio.AsyncClient(reconnection=False)
            self.sio.on("event", self._on_event, namespace=NAMESPACE)

    def event(self, name: str, payload: dict | None = None) -> dict:
        return {"name": name, "payload": payload or {}, "router_data": {"pathname": self.path, "asPath": self.path}}

    async def connect(self) -> None:
        boot = self.event(self.names.hydrate_event, {})
        if self.lean is not None:
            await self.lean.connect(self.base_url, f"token={self.client_token}",
                                    {"Cookie": f"{self.names.cookie_name}={self.session_token}"}, {"event": boot}, 30)
            return
        try:
            await self._connect(boot)
        except socketio.exceptions.ConnectionError as exc:
            raise BenchError(f"A simulated browser could not connect to {self.base_url}{NAMESPACE}: {exc}") from exc

    async def _connect(self, boot: dict) -> None:
        await self.sio.connect(
            f"{self.base_url}?token={self.client_token}",
            headers={"Cookie": f"{self.names.cookie_name}={self.session_token}"},
            auth={"event": boot},
            transports=["websocket"],
            namespaces=[NAMESPACE],
            socketio_path="/_event",
            wait_timeout=30,
        )

    async def send(self, name: str, payload: dict | None = None) -> None:
        if self.lean is not None:
            await self.lean.emit(self.event(name, payload))
            return
        await self.sio.emit("event", self.event(name, payload), namespace=NAMESPACE)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.lean is not None:
                await self.lean.close()
            else:
                await self.sio.disconnect()

    async def _on_event(self, update: dict) -> None:
        self._on_update(update, time.perf_counter())

    def _on_update(self, update: dict, now: float) -> None:
        for event in update.get("events") or ():
            if isinstance(event, dict) and str(event.get("name", "")).endswith("_redirect"):
                self.redirects.append(str(event.get("payload", {}).get("path", "?")))
                self.on_redirect()
        self.on_delta(update.get("delta") or {}, now)

    def on_delta(self, delta: dict, now: float) -> None:
        raise NotImplementedError

    def on_redirect(self) -> None:
        """The page sent this tab elsewhere (e.g. /login): stop waiting for it."""


class Board(Browser):
    """A reception board: records when the watched change reaches it (a ``live:<id>`` row)."""

    def __init__(self, index: int, base_url: str, names: Names, session_token: str) -> None:
        super().__init__(base_url, names, BOARD_PATH, session_token)
        self.index = index
        self.rows_key = names.var("rows")
        self.loaded = asyncio.Event()
        self.card_ids: set[int] = set()
        self.round: Round | None = None

    def on_redirect(self) -> None:
        self.loaded.set()

    def on_delta(self, delta: dict, now: float) -> None:
        calendar = delta.get(self.names.calendar)
        if not calendar:
            return
        rows = calendar.get(self.rows_key)
        if rows:  # the hydrate's delta has the empty default; the load's has the day's rows
            self.card_ids = {r["id"] for r in rows}
            self.loaded.set()
        watched = self.round
        if watched is None:
            return
        for key, row in calendar.items():
            if key.startswith("live:") and isinstance(row, dict) and watched.seen_by(row):
                watched.seen(self.index, now)
                if self.index == 0 and not watched.push_bytes:
                    watched.push_bytes = len(json.dumps(delta))
                return


class Tab(Browser):
    """An acting screen (the clinician's tablet, a desk): keeps every state's vars and wakes
    waiters on each delta."""

    def __init__(self, base_url: str, names: Names, path: str, session_token: str) -> None:
        super().__init__(base_url, names, path, session_token)
        self.vars: dict[str, dict] = {}
        self.changed = asyncio.Event()
        self.answered_at = 0.0  # when the acting event's own answer arrived
        self.answer: "object" = None  # (vars) -> bool: the answer to wait for

    def on_redirect(self) -> None:
        self.changed.set()

    def on_delta(self, delta: dict, now: float) -> None:
        for state, values in delta.items():
            self.vars.setdefault(state, {}).update(values)
        if self.answer is not None and not self.answered_at and self.answer(self):
            self.answered_at = now
        self.changed.set()

    def get(self, state: str, name: str):
        return self.vars.get(state, {}).get(self.names.var(name))

    async def wait_for(self, what: str, predicate, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if self.redirects:
                raise BenchError(f"The {self.path} tab was redirected to {self.redirects} while waiting for {what}; "
                                 "was the session cookie refused?")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError as exc:
                raise BenchError(f"The {self.path} tab did not show {what} within {timeout:.0f} s; its messages: "
                                 f"{self.messages()}.") from exc

    def messages(self) -> dict:
        return {state.rsplit(".", 1)[-1]: values[self.names.var("message")]
                for state, values in self.vars.items() if values.get(self.names.var("message"))}

    def refused(self) -> str:
        """An error message shown by the acting screen (the change was refused)."""
        for values in self.vars.values():
            if values.get(self.names.var("message_is_error")) and values.get(self.names.var("message")):
                return values[self.names.var("message")]
        return ""


class Actors:
    """The tablet and the desk, and how each kind of change is made (untimed steps first)."""

    def __init__(self, chart: Tab, desk: Tab, names: Names, prepared: Prepared, timeout: float) -> None:
        self.chart, self.desk, self.names, self.prepared, self.timeout = chart, desk, names, prepared, timeout
        self.targets = {"move": 0, "book": 0}  # each goes to its provider's next free 10 minutes from 13:00

    def _next_target(self, kind: str) -> int:
        minute = FIRST_TARGET + self.targets[kind] * VISIT_MINUTES
        self.targets[kind] += 1
        if minute + VISIT_MINUTES > 24 * 60:
            raise BenchError("The bench day is full: use fewer --changes or fewer --clients values.")
        return minute

    async def _select(self, appointment_id: int) -> None:
        """Open the visit's panel on the desk (as a click on its card does)."""
        n, desk = self.names, self.desk
        await desk.send(f"{n.calendar}.select", {"appointment_id": appointment_id})
        await desk.wait_for(f"visit {appointment_id} selected",
                            lambda: desk.get(n.calendar, "selected_id") == appointment_id, self.timeout)

    async def prepare(self, kind: str, subject: int):
        """Do what precedes the timed event; returns (tab, event, payload, seen_by, answer)."""
        n, desk, chart, timeout = self.names, self.desk, self.chart, self.timeout
        if kind == "sign":
            await chart.send(f"{n.chart}.open_visit", {"appointment_id": subject})
            await chart.wait_for(f"visit {subject} opened", lambda: chart.get(n.chart, "appointment_id") == subject
                                 and chart.get(n.chart, "note_id"), timeout)
            return (chart, f"{n.chart}.sign", {}, lambda r: r["id"] == subject and r["status"] == "ready_to_bill",
                    lambda t: t.get(n.chart, "visit_status") == "ready_to_bill")
        if kind == "check-in":
            await self._select(subject)
            return (desk, f"{n.visit}.check_in", {},
                    lambda r: r["id"] == subject and r["status"] == "arrived",
                    lambda t: t.get(n.visit, "message") == "Checked in.")
        if kind == "cancel":
            await self._select(subject)
            await desk.send(f"{n.visit}.ask_release", {"kind": "cancelled"})
            await desk.wait_for("the cancel dialog", lambda: desk.get(n.visit, "release_kind") == "cancelled", timeout)
            await desk.send(f"{n.visit}.set_reason", {"value": "Bench: the patient is unwell"})
            await desk.wait_for("the reason", lambda: desk.get(n.visit, "reason") == "Bench: the patient is unwell",
                                timeout)
            return (desk, f"{n.visit}.confirm_release", {}, lambda r: r["id"] == subject and r["status"] == "cancelled",
                    lambda t: t.get(n.visit, "message") == "Appointment cancelled.")
        if kind == "move":
            minute = self._next_target("move")
            column = f"{self.prepared.providers['moved']}|{self.prepared.today}"
            payload = json.dumps({"id": subject, "column": column, "minute": minute, "length": VISIT_MINUTES})
            moved_to = self.prepared.providers["moved"]
            return (desk, f"{n.move}.drop", {"payload": payload},
                    lambda r: r["id"] == subject and r["provider_id"] == moved_to and r["start_minute"] == minute,
                    lambda t: str(t.get(n.calendar, "message") or "").startswith("Moved "))
        if kind == "book":
            minute = self._next_target("book")
            await desk.send(f"{n.booking}.open", {"provider_id": self.prepared.providers["booked"],
                                                  "time": f"{minute // 60:02d}:{minute % 60:02d}",
                                                  "day": self.prepared.today})
            await desk.wait_for("the booking form", lambda: desk.get(n.calendar, "panel") == "booking"
                                and desk.get(n.booking, "patient_id") == 0, timeout)
            await desk.send(f"{n.booking}.set_type", {"value": str(self.prepared.type_id)})
            name = self.prepared.booked_patients[subject]
            await desk.send(f"{n.booking}.search_patients", {"text": name})
            await desk.wait_for(f"{name} found", lambda: any(
                h["id"] == subject for h in desk.get(n.booking, "hits") or ()), timeout)
            await desk.send(f"{n.booking}.choose_patient", {"patient_id": subject})
            await desk.wait_for(f"{name} chosen", lambda: desk.get(n.booking, "patient_id") == subject
                                and desk.get(n.booking, "type_id") == str(self.prepared.type_id), timeout)
            return (desk, f"{n.booking}.book", {}, lambda r: r["patient_id"] == subject and r["status"] == "booked",
                    lambda t: str(t.get(n.calendar, "message") or "").startswith("Booked "))
        raise BenchError(f"Unknown kind of change {kind!r}.")


# -- one measurement -----------------------------------------------------------------------
@dataclass
class Result:
    clients: int
    kind: str
    changes: int
    latencies_ms: list[float]
    actor_ms: list[float]  # the acting screen's own answer
    missed: int
    rss_per_client_kb: float
    push_kb: float  # median size of the delta carrying the change to one board
    app_cpu_ms: float  # the app's CPU time per delivery while changing
    bench_cpu_ms: float  # this process's (the simulated clients') CPU time per delivery
    redis_per_client_kb: float = 0.0  # Redis memory growth / N (several workers)
    per_worker: str = "1 worker"  # how many boards' sockets each worker held
    load: str = ""  # the machine's 1-minute load average before -> after the changes


async def connect_all(browsers: list[Board], timeout: float) -> None:
    for i in range(0, len(browsers), CONNECT_BATCH):
        await asyncio.gather(*(b.connect() for b in browsers[i : i + CONNECT_BATCH]))
    waits = [asyncio.wait_for(b.loaded.wait(), timeout) for b in browsers]
    await asyncio.gather(*waits, return_exceptions=True)
    failed = [b for b in browsers if not b.card_ids]
    if failed:
        redirects = sorted({r for b in failed for r in b.redirects})
        raise BenchError(
            f"{len(failed)} of {len(browsers)} boards did not receive their board (the calendar's rows) "
            f"within {timeout:.0f} s; redirects sent to them: {redirects or 'none'}. "
            "Sign-in (the clinic_session cookie of the socket's handshake) or the board's on_load did not work."
        )


async def measure(
    *, app: App, names: Names, engine, prepared: Prepared, actors: Actors, clients: int,
    visits: dict[str, list[int]], timeout: float,
) -> list[Result]:
    base_url = f"http://127.0.0.1:{app.port}"
    tokens = new_session_tokens(engine, prepared.desk_id, clients)
    boards = [Board(i, base_url, names, tokens[i]) for i in range(clients)]
    await asyncio.sleep(1.0)
    rss_before, redis_before = app.rss(), redis_memory(app.redis_url)
    results = []
    try:
        await connect_all(boards, timeout=max(60.0, clients * 0.5))
        shown = {a for kind, ids in visits.items() if kind != "book" for a in ids}
        missing = [b.index for b in boards if not shown <= b.card_ids]
        if missing:
            raise BenchError(f"{len(missing)} boards loaded a board without the bench visits "
                             f"(e.g. board {missing[0]}); wrong day or location?")
        await asyncio.sleep(1.0)
        rss_after, redis_after = app.rss(), redis_memory(app.redis_url)
        per_worker = sockets_per_worker(app.redis_url, {b.client_token for b in boards}) if app.redis_url else "1 worker"
        me = psutil.Process()
        for kind, subjects in visits.items():
            load_before = os.getloadavg()[0]
            latencies: list[float] = []
            actor_ms: list[float] = []
            missed = 0
            push_bytes: list[int] = []
            app_cpu, bench_cpu = app.cpu_seconds(), sum(me.cpu_times()[:2])
            for subject in subjects:
                tab, event, payload, seen_by, answer = await actors.prepare(kind, subject)
                watched = Round(kind=kind, seen_by=seen_by, expected=clients)
                for b in boards:
                    b.round = watched
                tab.answered_at, tab.answer = 0.0, answer
                for values in tab.vars.values():  # the last change's messages are not this one's answer
                    values.pop(names.var("message"), None)
                watched.sent_at = time.perf_counter()
                await tab.send(event, payload)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(watched.done.wait(), timeout)
                await tab.wait_for(f"the answer to {event}", lambda t=tab: t.answered_at > 0 or bool(t.refused()),
                                   timeout)
                if tab.refused():
                    raise BenchError(f"{kind} of {subject} was refused: {tab.refused()}")
                tab.answer = None
                actor_ms.append((tab.answered_at - watched.sent_at) * 1000)
                missed += clients - len(watched.arrived)
                latencies.extend((t - watched.sent_at) * 1000 for t in watched.arrived.values())
                push_bytes.append(watched.push_bytes)
            deliveries = clients * len(subjects)
            results.append(Result(
                clients, kind, len(subjects), latencies, actor_ms, missed, (rss_after - rss_before) / clients / 1024,
                statistics.median(push_bytes) / 1024, (app.cpu_seconds() - app_cpu) * 1000 / deliveries,
                (sum(me.cpu_times()[:2]) - bench_cpu) * 1000 / deliveries,
                redis_per_client_kb=(redis_after - redis_before) / clients / 1024, per_worker=per_worker,
                load=f"{load_before:.1f}->{os.getloadavg()[0]:.1f}"))
            print(f"N={clients} {kind}: p95 {percentile(latencies, 95):.0f} ms, {missed} missed", flush=True)
        return results
    finally:
        for b in boards:
            b.round = None
        await asyncio.gather(*(b.close() for b in boards))


# -- report ----------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]  # nearest rank


def machine_facts(args) -> list[str]:
    from importlib.metadata import version

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if args.workers > 1:
        mode = (f"{args.workers} backend workers, Redis state manager and live bus ({args.redis_url}"
                f"{', ' + ' '.join(args.app_env) if args.app_env else ''})")
    else:
        mode = "one worker, in-memory state, in-process bus"
    return [
        f"machine: {platform.platform()}, {os.cpu_count()} logical cores ({psutil.cpu_count(logical=False)} physical, "
        f"{affinity} usable), {psutil.virtual_memory().total / 2**30:.1f} GiB RAM",
        f"software: Python {platform.python_version()}, reflex {version('reflex')}, "
        f"python-socketio {version('python-socketio')}, simulated browsers: {args.clients_lib} client",
        f"app: prod, {mode}, {'PostgreSQL' if args.postgres else 'SQLite'}",
        f"load average (1, 5, 15 min) at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def print_table(results: list[Result]) -> None:
    header = ("N", "kind", "changes", "p50 ms", "p95 ms", "max ms", "missed", "actor p50 ms", "push KB",
              "RSS/client KB", "Redis/client KB", "boards per worker", "app CPU ms/push", "client CPU ms/push", "load 1m")
    rows = [
        (str(r.clients), r.kind, str(r.changes), f"{statistics.median(r.latencies_ms):.0f}" if r.latencies_ms else "-",
         f"{percentile(r.latencies_ms, 95):.0f}", f"{max(r.latencies_ms, default=float('nan')):.0f}",
         f"{r.missed}/{r.clients * r.changes}", f"{statistics.median(r.actor_ms):.0f}" if r.actor_ms else "-",
         f"{r.push_kb:.2f}", f"{r.rss_per_client_kb:.0f}", f"{r.redis_per_client_kb:.1f}", r.per_worker,
         f"{r.app_cpu_ms:.3f}", f"{r.bench_cpu_ms:.3f}", r.load)
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print("latency: the acting screen sends its event -> a board receives the delta with the visit's new row, over all "
          "(change, board) pairs.\nactor: -> the acting screen's own answer. RSS/client: the app's process tree RSS "
          "growth / N once N boards loaded.\npush KB: the delta one board received. CPU ms/push: CPU time while "
          "changing / (N x changes), of the app's process tree and of this process (the simulated clients).\n"
          "Redis/client: Redis used_memory growth / N. boards per worker: sockets each backend worker held. load 1m: "
          "the machine's load average before -> after the changes (other work on the machine inflates the figures).")


# -- main ------------------------------------------------------------------------------------
async def run_all(args, app: App, names: Names, engine, prepared: Prepared) -> list[Result]:
    base_url = f"http://127.0.0.1:{app.port}"
    (chart_token,) = new_session_tokens(engine, prepared.clinician_id, 1)
    (desk_token,) = new_session_tokens(engine, prepared.desk_id, 1)
    chart, desk = Tab(base_url, names, CHART_PATH, chart_token), Tab(base_url, names, BOARD_PATH, desk_token)
    await chart.connect()
    await desk.connect()
    try:
        signs = sum(len(run.get("sign", ())) for run in prepared.visits)
        await chart.wait_for("today's visits on /chart", lambda: len(chart.get(names.chart, "visits") or []) >= signs, 60)
        await desk.wait_for("the desk's board", lambda: bool(desk.get(names.calendar, "rows")), 60)
        actors = Actors(chart, desk, names, prepared, args.timeout)
        results = []
        for clients, visits in zip(args.clients, prepared.visits, strict=True):
            print(f"N={clients}: connecting {clients} boards, then {args.changes} changes of each kind ...", flush=True)
            results += await measure(app=app, names=names, engine=engine, prepared=prepared, actors=actors,
                                     clients=clients, visits=visits, timeout=args.timeout)
        return results
    finally:
        await chart.close()
        await desk.close()
        await LeanSocket.close_session()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", default="50,200", help="comma-separated numbers of boards (default 50,200)")
    parser.add_argument("--changes", type=int, default=20, help="changes of each kind per number of boards (default 20)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"the kinds of change to time (default {','.join(KINDS)})")
    parser.add_argument("--port", type=int, default=0, help="the app's port (default: the first free from 3100)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a change may take to reach all boards")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, app log) afterwards")
    parser.add_argument("--start-timeout", type=float, default=240.0, help="seconds the app may take to start")
    parser.add_argument("--workers", type=int, default=1,
                        help="backend workers (default 1: in-memory state, in-process bus); more than 1 runs the app "
                             "as `make run-prod` does, on Redis (--redis-url)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5",
                        help="with --workers > 1: the Redis database for states and the live bus, emptied first "
                             "(default redis://127.0.0.1:6379/5)")
    parser.add_argument("--postgres", action="store_true",
                        help="run on a fresh PostgreSQL database (created with --pg-admin-url, dropped afterwards) "
                             "instead of SQLite")
    parser.add_argument("--pg-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL URL allowed to CREATE DATABASE (default %(default)s)")
    parser.add_argument("--clients-lib", choices=("lean", "python-socketio"), default="lean",
                        help="the simulated browsers' Socket.IO client (default lean: see LeanSocket)")
    parser.add_argument("--app-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra environment variable for the app (repeatable), e.g. CLINIC_LIVE_DIRECT=0")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if any("=" not in item for item in args.app_env):
        parser.error("--app-env takes NAME=VALUE")
    try:
        args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error("--clients takes numbers separated by commas, e.g. 50,200")
    if not args.clients or min(args.clients) < 1 or args.changes < 1:
        parser.error("--clients and --changes must be positive")
    args.kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    if not args.kinds or set(args.kinds) - set(KINDS):
        parser.error(f"--kinds takes some of {', '.join(KINDS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    global CLIENTS_LIB
    CLIENTS_LIB = args.clients_lib
    from clinic_app.db import make_engine

    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    for line in machine_facts(args):
        print(line)
    tmp = Path(tempfile.mkdtemp(prefix="clinic-bench-"))
    app: App | None = None
    ok = False
    database_url = ""
    try:
        database_url = create_postgres_database(args.pg_admin_url) if args.postgres else f"sqlite:///{tmp / 'clinic.db'}"
        os.environ["DATABASE_URL"] = database_url  # nothing in this process may touch the project's database
        extra_env = dict(item.split("=", 1) for item in args.app_env)
        if args.workers > 1:
            empty_redis(args.redis_url)
            extra_env.update(REDIS_URL=args.redis_url, REFLEX_REDIS_URL=args.redis_url, GRANIAN_WORKERS=str(args.workers))
            # Pub/sub channels are server-wide (not per database): a channel of this run's own.
            extra_env.setdefault("CLINIC_LIVE_CHANNEL", f"clinic:live:bench:{uuid.uuid4().hex}")
        names = reflex_names()
        load_demo(database_url, tmp / "demo.log")
        engine = make_engine(database_url)
        prepared = prepare_bench(engine, args.changes, len(args.clients), args.kinds)
        port = args.port or free_port(3100)
        if args.port and free_port(port) != port:
            raise BenchError(f"Port {port} is in use.")
        app = App(port, database_url, tmp, **extra_env)
        print(f"starting: {shlex.join(app.cmd)} (DATABASE_URL={database_url})", flush=True)
        startup = app.start(args.start_timeout)
        check_compiled(names, app.web_dir)
        print(f"app answered /ping after {startup:.1f} s; {args.changes} changes of each kind "
              f"({', '.join(args.kinds)}) per run at {BENCH_LOCATION} ({prepared.tz})", flush=True)
        results = asyncio.run(run_all(args, app, names, engine, prepared))
        print()
        print_table(results)
        ok = True
        missed = sum(r.missed for r in results)
        if missed:
            print(f"FAIL: {missed} deliveries missed the {args.timeout:.0f} s timeout", file=sys.stderr)
            return 1
        return 0
    except BenchError as exc:
        print(f"benchmark set-up failed: {exc}", file=sys.stderr)
        if app is not None:
            print(f"--- end of the app's log ({app.log}) ---\n{app.tail()}", file=sys.stderr)
        return 2
    finally:
        if app is not None:
            app.stop()
        if args.postgres and database_url.startswith("postgresql") and not args.keep:
            with contextlib.suppress(Exception):
                drop_postgres_database(args.pg_admin_url, database_url)
        if ok and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            sys.stdout.flush()
            print(f"database and logs kept in {tmp}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
