"""The app started the way `make run` starts it, once per test session."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from clinic_app.db import make_engine
from clinic_app.models import AppointmentType, Location, Patient, Provider, Room
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.platform import auth
from clinic_app.settings import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(db_path: Path, **extra: str) -> dict[str, str]:
    """The environment env.sh sets up, plus this run's database."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(PROJECT_ROOT / "tools/bun/bin"), str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(
        REFLEX_USE_SYSTEM_BUN="1", REFLEX_TELEMETRY_ENABLED="false", REFLEX_CHECK_LATEST_VERSION="false",
        REFLEX_DIR=str(PROJECT_ROOT / ".reflex-home"), BUN_INSTALL_CACHE_DIR=str(PROJECT_ROOT / ".bun-cache"),
        DATABASE_URL=f"sqlite:///{db_path}", PYTHONUNBUFFERED="1",
        # Every e2e test signs in from 127.0.0.1, often as the same user within a minute: the
        # sign-in limits (tested in tests/api/test_guard.py) would refuse the suite's own sign-ins.
        CLINIC_SIGN_INS_PER_CLIENT="10000", CLINIC_SIGN_INS_PER_USERNAME="10000",
    )
    env.update(extra)
    return env


# An app's first page after its start, on a loaded 2-core machine (CI runs beside other work),
# can take more than Playwright's default 5 s to show what it computed: wait up to 15 s.
expect.set_options(timeout=15_000)

_RUNNING_LOGS: list[Path] = []  # the app.log of each app running now, newest last


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed e2e test's report ends with what the running apps logged last: a CI run on a
    loaded machine is the only witness of a slow sign-in or a refused socket."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when == "call":
        browser = item.funcargs.get("browser")
        for context in getattr(browser, "contexts", []):
            for page in context.pages:
                with contextlib.suppress(Exception):
                    text = page.evaluate("() => (document.body && document.body.innerText || '').slice(0, 800)")
                    report.sections.append((f"open page {page.url}", text))
        for path in _RUNNING_LOGS:
            with contextlib.suppress(OSError):
                report.sections.append((f"app log {path.parent.name} (last 4000 characters)", path.read_text()[-4000:]))


@contextlib.contextmanager
def running_app(tmp_dir: Path, **extra_env: str):
    """`make run`'s two steps (demo --if-empty, reflex run --env prod) on a free port."""
    db = tmp_dir / "clinic.db"
    port = _free_port()
    # A frontend build of its own, so that a developer's `make run` (or another test
    # app) rebuilding .web cannot pull files from under this server.
    env = app_env(db, REFLEX_WEB_WORKDIR=str(tmp_dir / "web"), REFLEX_STATES_WORKDIR=str(tmp_dir / "states"),
                  CLINIC_DATA_DIR=str(tmp_dir / "data"), **extra_env)
    subprocess.run([sys.executable, "-m", "clinic_app", "demo", "--if-empty"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, timeout=300)
    log = open(tmp_dir / "app.log", "w")  # noqa: SIM115 (closed below)
    _RUNNING_LOGS.append(tmp_dir / "app.log")
    proc = subprocess.Popen(
        [sys.executable, "-m", "reflex", "run", "--env", "prod", "--single-port", "--frontend-port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 400
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited early:\n{(tmp_dir / 'app.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/ping", timeout=2) as r:
                    if r.status == 200:
                        with urllib.request.urlopen(base + "/login", timeout=5) as page:
                            if page.status == 200:
                                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not answer in time:\n{(tmp_dir / 'app.log').read_text()[-3000:]}")
            time.sleep(1)
        yield base, db
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        _RUNNING_LOGS.remove(tmp_dir / "app.log")


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """(base URL, database path) of the app, running in production mode."""
    with running_app(tmp_path_factory.mktemp("app")) as started:
        yield started


PASSWORD = "e2e-password-1"


def _zone_where_it_is_nine_am() -> str:
    """An IANA zone in which the local time is now between 09:00 and 10:00."""
    offset = (9 - dt.datetime.now(dt.UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def seed_e2e_clinic(db) -> dict:
    """A location of its own, so that the demo data and the clock cannot interfere:
    its zone makes it mid-morning now, and Zed Quill is booked at 11:00 today."""
    tz = _zone_where_it_is_nine_am()
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine, expire_on_commit=False) as s:
        location = Location(name="E2E Clinic", timezone=tz)
        s.add(location)
        s.flush()
        provider = Provider(name="Erin Test, PT", location_id=location.id)
        room = Room(location_id=location.id, name="Gym")
        patients = [
            Patient(mrn="E2E1", first_name="Zed", last_name="Quill", birth_date=dt.date(1970, 5, 1)),
            Patient(mrn="E2E2", first_name="Yara", last_name="Quinlan", birth_date=dt.date(1985, 2, 3)),
        ]
        s.add_all([provider, room, *patients])
        s.commit()
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one()
        users = {}
        for username, role in (("e2e_desk", "reception"), ("e2e_clin", "clinician"), ("e2e_bill", "biller")):
            users[role] = auth.create_user(
                s, actor=None, username=username, full_name=username, password=PASSWORD, role=role,
                provider_id=provider.id if role == "clinician" else None, location_id=location.id,
            )
        today = dt.datetime.now(ZoneInfo(tz)).date()
        starts = dt.datetime.combine(today, dt.time(11, 0), tzinfo=ZoneInfo(tz)).astimezone(dt.UTC)
        scheduling.book_appointment(
            s, actor=auth.actor_for(users["reception"]), patient_id=patients[0].id, provider_id=provider.id,
            appointment_type_id=kind.id, starts_at=starts, room_id=room.id,
        )
        s.commit()  # the seed is the caller: it commits what the services wrote
    engine.dispose()
    return {"provider": "Erin Test, PT"}


@pytest.fixture(autouse=True)
def _close_the_tests_own_contexts(request):
    """Browser contexts a test opens itself (a second desk, a tablet) close when it ends: left
    open, each keeps a renderer process busy for the rest of the run on the shared 2 cores."""
    if "browser" not in request.fixturenames:
        yield
        return
    browser = request.getfixturevalue("browser")
    before = set(browser.contexts)
    yield
    for context in browser.contexts:
        if context not in before:
            with contextlib.suppress(Exception):  # closed already by its own fixture
                context.close()


def e2e_cast(s: Session, mrn: str) -> SimpleNamespace:
    """Who a seed works with, after seed_e2e_clinic: the location (and its zone, today there),
    Erin, the patient of ``mrn``, the desk's and the clinician's actors, the Treatment type."""
    location = s.exec(select(Location).where(Location.name == "E2E Clinic")).one()
    tz = ZoneInfo(location.timezone)
    return SimpleNamespace(
        location=location, tz=tz, today=dt.datetime.now(tz).date(),
        erin=s.exec(select(Provider).where(Provider.name == "Erin Test, PT")).one(),
        patient=s.exec(select(Patient).where(Patient.mrn == mrn)).one(),
        desk=auth.actor_for(auth.authenticate(s, username="e2e_desk", password=PASSWORD)),
        clin=auth.actor_for(auth.authenticate(s, username="e2e_clin", password=PASSWORD)),
        kind=s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).one(),
    )
