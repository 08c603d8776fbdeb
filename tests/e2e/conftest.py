"""The app started the way `make run` starts it, once per test session."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def running_app(tmp_dir: Path, **extra_env: str):
    """`make run`'s two steps (demo --if-empty, reflex run --env prod) on a free port."""
    db = tmp_dir / "clinic.db"
    port = _free_port()
    env = app_env(db, **extra_env)
    subprocess.run([sys.executable, "-m", "clinic_app", "demo", "--if-empty"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, timeout=300)
    log = open(tmp_dir / "app.log", "w")  # noqa: SIM115 (closed below)
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


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """(base URL, database path) of the app, running in production mode."""
    with running_app(tmp_path_factory.mktemp("app")) as started:
        yield started
