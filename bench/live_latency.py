"""Live push latency: a clinician signs a note, how soon does every reception board show it?

What is measured
    The time from a clinician's tablet sending ``ChartState.sign`` to each of N open
    reception boards receiving the Reflex delta in which that visit's card has the
    status ``ready_to_bill``. That covers the whole live spine of the real app: the
    sign handler (``charting.sign_note``, one SQLite transaction), the in-process bus,
    the listener's fan-out (``state/live_push.py``: one card query; a status change in
    place goes into the worker's shared overlay of that day, encoded once and queued on
    every board's socket; other changes are one ``modify_state`` per registered board)
    and the socket writes.
    Per N the benchmark prints p50/p95/max over all (sign, board) deliveries, how many
    deliveries missed the timeout, and the backend's RSS growth per connected board;
    besides those, the signer's own round trip, the size of the delta one board gets,
    and the CPU time per delivery of the app and of the simulated clients (which tells
    whether the server or this process was the bottleneck).

How
    1. A fresh SQLite database in a temp dir gets the demo clinic
       (``python -m clinic_app demo``). At "Riverside Physio & Rehab" (location 1) a
       bench provider with its own clinician account gets ``signs x len(clients)``
       short visits today (local date), 07:00 onwards, already ``in_session`` with a
       SOAP note, one diagnosis (M54.50) and one procedure (97110 x 1), so each is
       ready to sign. They are inserted with the models (bookings in the past are
       refused by the service); a dedicated provider, no room and patients of its own keep clear
       of the database's overlap triggers.
    2. The app starts the way ``make run`` does: ``reflex run --env prod --single-port``
       on 127.0.0.1 in its own process group, with env.sh, ``DATABASE_URL`` and a frontend
       build dir of its own in the temp dir (``REFLEX_WEB_WORKDIR``, as tests/e2e does);
       it is stopped with SIGINT to the group at the end, also on error.
    3. Simulated browsers are python-socketio clients speaking Reflex 0.10.1's
       protocol: connect to ``/_event?token=<uuid4>`` with the boot event
       ``State.hydrate_and_load`` in the CONNECT packet's auth. Sign-in: a session
       token from ``services.auth.start_session`` travels the way the browser sends
       it, as the HttpOnly ``clinic_session`` cookie in the websocket handshake's Cookie
       header (the session gate, state/sessions.py, reads it from there on every event).
    4. N boards (user ``reception``) open /board and must each receive their board
       (the calendar state's cards, with the bench visits) before anything is timed.
       One clinician client opens /chart, then per sign sends ``open_visit`` (waits for
       its delta), notes the time, sends ``sign`` and waits until every board has the
       card as ready to bill (or the timeout), before the next sign.
    5. Memory: RSS of the app's whole process tree before the N boards connect and
       after they loaded; the difference / N is the per-board cost.
    6. Production mode (``--workers N`` with N > 1, as ``make run-prod`` runs it): the app
       gets ``REDIS_URL``/``REFLEX_REDIS_URL`` (``--redis-url``, a Redis database the
       benchmark empties first) and ``GRANIAN_WORKERS=N``, so client states live in Redis
       (with rxconfig.py's opportunistic lock) and the live bus is Redis pub/sub; the
       boards spread over the workers by the kernel, and the table says how many each
       worker held (from Reflex's socket records in Redis) and Redis's memory growth per
       board. ``--postgres`` runs on a fresh PostgreSQL database instead of SQLite
       (created through ``--pg-admin-url``, dropped afterwards). ``--app-env NAME=VALUE``
       passes a setting to the app, e.g. ``REFLEX_OPLOCK_ENABLED=false`` for Reflex's
       default Redis path. Each row also records the machine's 1-minute load average
       before and after its signs: on a shared machine other work inflates the latencies.

The clients run in this process on the same machine as the server, so on a small box
they compete for CPU with it: figures are an upper bound of what browsers would see.

Usage (from the project root; env.sh is sourced for the app by the script itself):
    .venv/bin/python bench/live_latency.py --clients 50,200 --signs 20       # one worker, SQLite (make run)
    .venv/bin/python bench/live_latency.py --clients 200,500 --signs 20 --workers 2 --postgres   # make run-prod
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

LOCATION_NAME = "Riverside Physio & Rehab"
BOARD_PATH = "/board"
CHART_PATH = "/chart"
NAMESPACE = "/_event"
DIAGNOSIS = "M54.50"
PROCEDURE = "97110"
BENCH_USER = "bench.clinician"
DAY_START, DAY_END = 7 * 60, 20 * 60  # the board's hours (state/calendar.py)
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
    marker: str  # Reflex's suffix of var names in deltas

    def var(self, name: str) -> str:
        return name + self.marker


def reflex_names() -> Names:
    from reflex.state import State
    from reflex_base.constants import CompileVars
    from reflex_base.constants.state import FIELD_MARKER

    from clinic_app.state.auth import SESSION_COOKIE
    from clinic_app.state.calendar import CalendarState
    from clinic_app.state.chart import ChartState

    for handler in ("open_visit", "sign", "load"):
        if handler not in ChartState.event_handlers:
            raise BenchError(f"ChartState has no event handler {handler!r}; update the benchmark.")
    return Names(
        hydrate_event=f"{State.get_full_name()}.{CompileVars.HYDRATE_AND_LOAD}",
        cookie_name=SESSION_COOKIE,
        calendar=CalendarState.get_full_name(),
        chart=ChartState.get_full_name(),
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
    appointment_ids: list[int]
    reception_id: int
    clinician_id: int
    minutes: int


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


def prepare_visits(engine, total: int) -> Prepared:
    """A bench provider and clinician at location 1 with ``total`` signable visits today."""
    from sqlmodel import select

    from clinic_app.db import session_scope, utcnow
    from clinic_app.models import (
        Appointment,
        AppointmentType,
        Location,
        Note,
        NoteDiagnosis,
        NoteProcedure,
        Patient,
        Provider,
        User,
    )
    from clinic_app.services import auth
    from clinic_app.services.clock import local_day, zone

    minutes = next((m for m in (15, 10, 5) if total * m <= DAY_END - DAY_START), None)
    if minutes is None:
        raise BenchError(f"{total} visits do not fit on one board day; use fewer --signs or --clients values.")
    with session_scope(engine) as session:
        location = session.exec(select(Location).where(Location.name == LOCATION_NAME)).one()
        reception = session.exec(select(User).where(User.username == "reception")).one()
        if reception.location_id != location.id:
            raise BenchError("The demo user 'reception' is not at location 1; the demo data changed.")
        provider = Provider(name="Bench Clinician, PT", discipline="physiotherapy", location_id=location.id)
        kind = AppointmentType(name="Bench sign-off", duration_minutes=minutes, color="gray")
        session.add_all([provider, kind])
        session.flush()
        clinician = auth.create_user(
            session, actor=None, username=BENCH_USER, full_name="Bench Clinician", password=secrets.token_urlsafe(16),
            role="clinician", provider_id=provider.id,
        )
        # Patients of its own: a demo patient may already be booked then (a patient is
        # never in two visits at once, migration 0004).
        patients = [
            Patient(mrn=f"BENCH{i:05d}", first_name="Bench", last_name=f"Patient{i}", birth_date=dt.date(1980, 1, 1))
            for i in range(total)
        ]
        session.add_all(patients)
        session.flush()
        today = local_day(utcnow(), location.timezone)
        first = dt.datetime.combine(today, dt.time(DAY_START // 60), tzinfo=zone(location.timezone))
        ids = []
        for i in range(total):
            starts = (first + dt.timedelta(minutes=i * minutes)).astimezone(dt.UTC)
            appointment = Appointment(
                patient_id=patients[i % len(patients)].id, provider_id=provider.id, location_id=location.id,
                room_id=None, appointment_type_id=kind.id, starts_at=starts,
                ends_at=starts + dt.timedelta(minutes=minutes), status="in_session",
                arrived_at=starts - dt.timedelta(minutes=5), session_started_at=starts,
            )
            session.add(appointment)
            session.flush()
            note = Note(
                appointment_id=appointment.id, patient_id=appointment.patient_id, provider_id=provider.id,
                subjective="Low back pain 4/10, better than last week.", objective="Lumbar flexion improved.",
                assessment="Progressing.", plan="Continue home exercises.",
            )
            session.add(note)
            session.flush()
            session.add_all([NoteDiagnosis(note_id=note.id, code=DIAGNOSIS), NoteProcedure(note_id=note.id, code=PROCEDURE, units=1)])
            ids.append(appointment.id)
        return Prepared(appointment_ids=ids, reception_id=reception.id, clinician_id=clinician.id, minutes=minutes)


def new_session_tokens(engine, user_id: int, count: int) -> list[str]:
    """``count`` sign-in tokens for one user, as if each screen had signed in."""
    from clinic_app.db import session_scope
    from clinic_app.models import User
    from clinic_app.services import auth

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
    """One sign: which card to watch for and when each board saw it ready to bill."""

    appointment_id: int
    expected: int
    sent_at: float = 0.0
    arrived: dict[int, float] = field(default_factory=dict)
    push_bytes: int = 0  # size of the delta that brought the card to board 0
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
    """A reception board: records when the watched card turns ready to bill."""

    def __init__(self, index: int, base_url: str, names: Names, session_token: str) -> None:
        super().__init__(base_url, names, BOARD_PATH, session_token)
        self.index = index
        self.cards_key = names.var("cards")
        self.live_key = names.var("live_status")
        self.loaded = asyncio.Event()
        self.card_ids: set[int] = set()
        self.round: Round | None = None

    def on_redirect(self) -> None:
        self.loaded.set()

    def on_delta(self, delta: dict, now: float) -> None:
        calendar = delta.get(self.names.calendar) or {}
        cards = calendar.get(self.cards_key)
        # A status change in place arrives in the shared live_status overlay (id -> status).
        overlay = calendar.get(self.live_key) or {}
        if cards is None and not overlay:
            return
        if cards and not self.loaded.is_set():
            self.card_ids = {c["id"] for c in cards}
            self.loaded.set()
        watched = self.round
        if watched is not None and (
            overlay.get(str(watched.appointment_id)) == "ready_to_bill"
            or any(c["id"] == watched.appointment_id and c["status"] == "ready_to_bill" for c in cards or ())
        ):
            watched.seen(self.index, now)
            if self.index == 0 and not watched.push_bytes:
                watched.push_bytes = len(json.dumps(delta))


class Chart(Browser):
    """The clinician's tablet: keeps the chart state's vars and wakes waiters on each delta."""

    def __init__(self, base_url: str, names: Names, session_token: str) -> None:
        super().__init__(base_url, names, CHART_PATH, session_token)
        self.vars: dict = {}
        self.changed = asyncio.Event()
        self.signed_at = 0.0  # when the sign handler's own delta arrived

    def on_redirect(self) -> None:
        self.changed.set()

    def on_delta(self, delta: dict, now: float) -> None:
        chart = delta.get(self.names.chart)
        if chart:
            self.vars.update(chart)
            if not self.signed_at and chart.get(self.names.var("visit_status")) == "ready_to_bill":
                self.signed_at = now
            self.changed.set()

    def get(self, name: str):
        return self.vars.get(self.names.var(name))

    async def wait_for(self, what: str, predicate, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if self.redirects:
                raise BenchError(f"The clinician's tab was redirected to {self.redirects} while waiting for {what}; "
                                 "was the session cookie refused?")
            if self.get("message_is_error"):
                raise BenchError(f"The chart reported an error while waiting for {what}: {self.get('message')!r}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError as exc:
                raise BenchError(f"The clinician's chart did not show {what} within {timeout:.0f} s "
                                 f"(redirects: {self.redirects or 'none'}).") from exc

    async def open_visit(self, appointment_id: int, timeout: float) -> None:
        """Open the visit's note (not timed) and check it can be signed."""
        await self.send(f"{self.names.chart}.open_visit", {"appointment_id": appointment_id})
        await self.wait_for(f"visit {appointment_id} opened",
                            lambda: self.get("appointment_id") == appointment_id and self.get("note_id"), timeout)
        if self.get("visit_status") != "in_session":
            raise BenchError(f"Visit {appointment_id} is {self.get('visit_status')!r}, not in session; cannot sign it.")


# -- one measurement -----------------------------------------------------------------------
@dataclass
class Result:
    clients: int
    signs: int
    latencies_ms: list[float]
    signer_ms: list[float]
    missed: int
    rss_per_client_kb: float
    push_kb: float  # median size of the delta carrying the change to one board
    app_cpu_ms: float  # the app's CPU time per delivery while signing
    bench_cpu_ms: float  # this process's (the simulated clients') CPU time per delivery
    redis_per_client_kb: float = 0.0  # Redis memory growth / N (several workers)
    per_worker: str = "1 worker"  # how many boards' sockets each worker held
    load: str = ""  # the machine's 1-minute load average before -> after the signs


async def connect_all(browsers: list[Board], timeout: float) -> None:
    for i in range(0, len(browsers), CONNECT_BATCH):
        await asyncio.gather(*(b.connect() for b in browsers[i : i + CONNECT_BATCH]))
    waits = [asyncio.wait_for(b.loaded.wait(), timeout) for b in browsers]
    await asyncio.gather(*waits, return_exceptions=True)
    failed = [b for b in browsers if not b.card_ids]
    if failed:
        redirects = sorted({r for b in failed for r in b.redirects})
        raise BenchError(
            f"{len(failed)} of {len(browsers)} boards did not receive their board (the calendar's cards) "
            f"within {timeout:.0f} s; redirects sent to them: {redirects or 'none'}. "
            "Sign-in (the clinic_session cookie of the socket's handshake) or the board's on_load did not work."
        )


async def measure(
    *, app: App, names: Names, engine, prepared: Prepared, chart: Chart, clients: int, visits: list[int],
    timeout: float,
) -> Result:
    base_url = f"http://127.0.0.1:{app.port}"
    tokens = new_session_tokens(engine, prepared.reception_id, clients)
    boards = [Board(i, base_url, names, tokens[i]) for i in range(clients)]
    await asyncio.sleep(1.0)
    rss_before, redis_before = app.rss(), redis_memory(app.redis_url)
    try:
        await connect_all(boards, timeout=max(60.0, clients * 0.5))
        missing = [b.index for b in boards if not set(visits) <= b.card_ids]
        if missing:
            raise BenchError(f"{len(missing)} boards loaded a board without the bench visits "
                             f"(e.g. board {missing[0]}); wrong day or location?")
        await asyncio.sleep(1.0)
        rss_after, redis_after = app.rss(), redis_memory(app.redis_url)
        per_worker = sockets_per_worker(app.redis_url, {b.client_token for b in boards}) if app.redis_url else "1 worker"
        load_before = os.getloadavg()[0]
        latencies: list[float] = []
        signer: list[float] = []
        missed = 0
        push_bytes: list[int] = []
        me = psutil.Process()
        app_cpu, bench_cpu = app.cpu_seconds(), sum(me.cpu_times()[:2])
        for appointment_id in visits:
            await chart.open_visit(appointment_id, timeout)
            watched = Round(appointment_id=appointment_id, expected=clients)
            for b in boards:
                b.round = watched
            chart.signed_at = 0.0
            watched.sent_at = time.perf_counter()
            await chart.send(f"{names.chart}.sign")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watched.done.wait(), timeout)
            await chart.wait_for(f"visit {appointment_id} signed", lambda: chart.signed_at > 0, timeout)
            signer.append((chart.signed_at - watched.sent_at) * 1000)
            missed += clients - len(watched.arrived)
            latencies.extend((t - watched.sent_at) * 1000 for t in watched.arrived.values())
            push_bytes.append(watched.push_bytes)
        deliveries = clients * len(visits)
        app_cpu = (app.cpu_seconds() - app_cpu) * 1000 / deliveries
        bench_cpu = (sum(me.cpu_times()[:2]) - bench_cpu) * 1000 / deliveries
        return Result(clients, len(visits), latencies, signer, missed, (rss_after - rss_before) / clients / 1024,
                      statistics.median(push_bytes) / 1024, app_cpu, bench_cpu,
                      redis_per_client_kb=(redis_after - redis_before) / clients / 1024, per_worker=per_worker,
                      load=f"{load_before:.1f}->{os.getloadavg()[0]:.1f}")
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
    header = ("N", "signs", "p50 ms", "p95 ms", "max ms", "missed", "RSS/client KB", "Redis/client KB",
              "boards per worker", "signer p50 ms", "push KB", "app CPU ms/push", "client CPU ms/push", "load 1m")
    rows = [
        (str(r.clients), str(r.signs), f"{statistics.median(r.latencies_ms):.0f}" if r.latencies_ms else "-",
         f"{percentile(r.latencies_ms, 95):.0f}", f"{max(r.latencies_ms, default=float('nan')):.0f}",
         f"{r.missed}/{r.clients * r.signs}", f"{r.rss_per_client_kb:.0f}", f"{r.redis_per_client_kb:.1f}", r.per_worker,
         f"{statistics.median(r.signer_ms):.0f}" if r.signer_ms else "-", f"{r.push_kb:.1f}", f"{r.app_cpu_ms:.2f}",
         f"{r.bench_cpu_ms:.2f}", r.load)
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    print("latency: the clinician sends sign -> a board receives the delta with the card ready to bill, over all "
          "(sign, board) pairs.\nsigner: -> the clinician's own delta. RSS/client: the app's process tree RSS growth / N "
          "once N boards loaded.\npush KB: the delta one board received. CPU ms/push: CPU time while signing / (N x signs), "
          "of the app's process tree and of this process (the simulated clients).\nRedis/client: Redis used_memory growth / N. "
          "boards per worker: sockets each backend worker held. load 1m: the machine's load average before -> after "
          "the signs (other work on the machine inflates the figures).")


# -- main ------------------------------------------------------------------------------------
async def run_all(args, app: App, names: Names, engine, prepared: Prepared) -> list[Result]:
    base_url = f"http://127.0.0.1:{app.port}"
    (chart_token,) = new_session_tokens(engine, prepared.clinician_id, 1)
    chart = Chart(base_url, names, chart_token)
    await chart.connect()
    try:
        await chart.wait_for("today's visits on /chart", lambda: len(chart.get("visits") or []) >= len(prepared.appointment_ids),
                             60)
        results = []
        visits = iter(prepared.appointment_ids)
        for clients in args.clients:
            batch = [next(visits) for _ in range(args.signs)]
            print(f"N={clients}: connecting {clients} boards, then {args.signs} signs ...", flush=True)
            result = await measure(app=app, names=names, engine=engine, prepared=prepared, chart=chart,
                                   clients=clients, visits=batch, timeout=args.timeout)
            print(f"N={clients}: done, {result.missed} missed", flush=True)
            results.append(result)
        return results
    finally:
        await chart.close()
        await LeanSocket.close_session()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", default="50,200", help="comma-separated numbers of boards (default 50,200)")
    parser.add_argument("--signs", type=int, default=20, help="notes signed per number of boards (default 20)")
    parser.add_argument("--port", type=int, default=0, help="the app's port (default: the first free from 3100)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a sign may take to reach all boards")
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
    if not args.clients or min(args.clients) < 1 or args.signs < 1:
        parser.error("--clients and --signs must be positive")
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
        names = reflex_names()
        load_demo(database_url, tmp / "demo.log")
        engine = make_engine(database_url)
        prepared = prepare_visits(engine, args.signs * len(args.clients))
        port = args.port or free_port(3100)
        if args.port and free_port(port) != port:
            raise BenchError(f"Port {port} is in use.")
        app = App(port, database_url, tmp, **extra_env)
        print(f"starting: {shlex.join(app.cmd)} (DATABASE_URL={database_url})", flush=True)
        startup = app.start(args.start_timeout)
        check_compiled(names, app.web_dir)
        print(f"app answered /ping after {startup:.1f} s; {len(prepared.appointment_ids)} visits of "
              f"{prepared.minutes} min to sign at {LOCATION_NAME}", flush=True)
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
