"""The command line for interoperability: api-token create, fhir export/import (a round
trip between two databases), hl7 ingest and the MLLP listener."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

from sqlmodel import Session, create_engine, select

from clinic_app.models import ApiToken, Patient
from clinic_app.services.api_tokens import token_hash
from clinic_app.settings import PROJECT_ROOT
from tests.api.test_fhir_bulk import snapshot
from tests.test_cli import run


def test_api_token_create_prints_the_token_once_and_stores_its_hash(tmp_path):
    db = tmp_path / "t.db"
    assert run(["demo", "--patients", "5", "--now", "2030-03-12T15:10:00+00:00"], db).returncode == 0
    out = run(["api-token", "create", "--username", "reception", "--scopes", "user/Patient.read user/Appointment.*", "--days", "7"], db)
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("clk_") and "user/Patient.read user/Appointment.*" in out.stdout
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        row = s.exec(select(ApiToken)).one()
        assert row.token_hash == token_hash(token) and token not in row.token_hash
        assert (row.expires_at - row.created_at).days == 7
    engine.dispose()
    bad = run(["api-token", "create", "--username", "reception", "--scopes", "everything", "--days", "7"], db)
    assert bad.returncode == 1 and "is not a scope" in bad.stderr
    nobody = run(["api-token", "create", "--username", "ghost", "--scopes", "user/*.read", "--days", "7"], db)
    assert nobody.returncode == 1 and "no active user 'ghost'" in nobody.stderr


def test_fhir_export_then_import_into_an_empty_database(tmp_path):
    source, target, out = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "export"
    assert run(["demo", "--patients", "20", "--now", "2030-03-12T15:10:00+00:00"], source).returncode == 0
    exported = run(["fhir", "export", "--out", str(out)], source)
    assert exported.returncode == 0, exported.stderr
    assert "20 Patient" in exported.stdout and (out / "Claim.ndjson").exists()
    assert run(["migrate"], target).returncode == 0
    imported = run(["fhir", "import", str(out)], target)
    assert imported.returncode == 0, imported.stderr
    engines = [create_engine(f"sqlite:///{p}") for p in (source, target)]
    with Session(engines[0]) as a, Session(engines[1]) as b:
        assert snapshot(a) == snapshot(b)
    for e in engines:
        e.dispose()
    # Importing the same export again: patients are matched by MRN, the visits clash.
    again = run(["fhir", "import", str(out)], target)
    assert again.returncode == 1 and "Nothing was imported" in again.stderr


def _mllp(port: int, message: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.sendall(b"\x0b" + message.encode() + b"\x1c\x0d")
        data = b""
        while not data.endswith(b"\x1c\x0d"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.strip(b"\x0b\x1c\x0d").decode()


def test_hl7_ingest_file_and_mllp_listener(tmp_path):
    db = tmp_path / "h.db"
    assert run(["demo", "--patients", "5", "--now", "2030-03-12T15:10:00+00:00"], db).returncode == 0
    feed = tmp_path / "feed.hl7"
    feed.write_text(
        "MSH|^~\\&|L|F|C|M|20300312||ADT^A04|A1|P|2.5\nPID|1||Q1||Quest^Ana||19600101\n"
        "MSH|^~\\&|L|F|C|M|20300312||ADT^A04|A2|P|2.5\nPID|1||Q1||Quest^Ana||19600101\n"
    )
    out = run(["hl7", "ingest", str(feed), "--username", "reception"], db)
    assert out.returncode == 1  # the second message is a duplicate
    assert "MSA|AA|A1" in out.stdout and "MSA|AE|A2|A patient with MRN Q1 is already registered" in out.stdout

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    proc = subprocess.Popen([sys.executable, "-m", "clinic_app", "hl7", "listen", "--username", "reception", "--port", str(port)],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.3)
        reply = _mllp(port, "MSH|^~\\&|L|F|C|M|20300312||ADT^A04|B1|P|2.5\rPID|1||Q2||Quest^Ben||19610101\r")
        assert "MSA|AA|B1" in reply
        reply = _mllp(port, "MSH|^~\\&|L|F|C|M|20300312||ADT^A08|B2|P|2.5\rPID|1||Q404||Quest^Ben||19610101\r")
        assert "MSA|AE|B2|No patient has MRN Q404" in reply
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=20)
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        assert {p.mrn for p in s.exec(select(Patient).where(Patient.last_name == "Quest"))} == {"Q1", "Q2"}
    engine.dispose()
