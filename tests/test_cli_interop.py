"""The command line for interoperability: api-token create, fhir export/import (a round
trip between two databases), hl7 ingest and the MLLP listener."""

from __future__ import annotations

import os
import select as io_select
import signal
import socket
import subprocess
import sys
import time

from sqlmodel import Session, create_engine, select

from clinic_app.models import ApiToken, Patient
from clinic_app.services.platform.api_tokens import token_hash
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


def _listener(db, *, ignore_sigint: bool = False) -> tuple[subprocess.Popen, int]:
    """``hl7 listen`` on a free port, once it says it is listening. ``ignore_sigint``: start it the way a
    shell without job control starts a background job (``make test &``, a CI runner): SIGINT ignored."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    proc = subprocess.Popen([sys.executable, "-m", "clinic_app", "hl7", "listen", "--username", "reception", "--port", str(port)],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=preexec)
    ready, _, _ = io_select.select([proc.stdout], [], [], 120)
    assert ready, "the listener did not start"
    line = proc.stdout.readline().decode()
    assert "HL7 MLLP listener on" in line, line
    return proc, port


def _stops_within(proc: subprocess.Popen, sig: int, seconds: float) -> float:
    started = time.monotonic()
    os.kill(proc.pid, sig)
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    took = time.monotonic() - started
    assert took < seconds, f"the listener took {took:.1f} s to stop on {signal.Signals(sig).name}"
    return took


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

    proc, port = _listener(db)
    try:
        reply = _mllp(port, "MSH|^~\\&|L|F|C|M|20300312||ADT^A04|B1|P|2.5\rPID|1||Q2||Quest^Ben||19610101\r")
        assert "MSA|AA|B1" in reply
        reply = _mllp(port, "MSH|^~\\&|L|F|C|M|20300312||ADT^A08|B2|P|2.5\rPID|1||Q404||Quest^Ben||19610101\r")
        assert "MSA|AE|B2|No patient has MRN Q404" in reply
    finally:
        _stops_within(proc, signal.SIGINT, 10)
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        assert {p.mrn for p in s.exec(select(Patient).where(Patient.last_name == "Quest"))} == {"Q1", "Q2"}
    engine.dispose()


def test_the_listener_answers_edge_messages_and_stops_within_2_s_of_sigint_or_sigterm(tmp_path):
    """SIGINT was lost when the listener was started with SIGINT ignored (a background job of a shell
    without job control): asyncio installs its Ctrl-C handler only over Python's default one. Both
    signals must stop it within 2 s, even with a connection open."""
    db = tmp_path / "l.db"
    assert run(["demo", "--patients", "5", "--now", "2030-03-12T15:10:00+00:00"], db).returncode == 0
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc, port = _listener(db, ignore_sigint=True)
        try:
            # A start time past Python's datetime, and two messages in one frame: each answered in HL7.
            _mllp(port, "MSH|^~\\&|L|F|C|M|20300312||ADT^A04|R1|P|2.5\rPID|1||Q3||Quest^Bo||19610101\r")
            for start in ("99991231235959", "000101010000+1400", "000101010000+9999"):
                reply = _mllp(port, "MSH|^~\\&|L|F|C|M|20300312||SIU^S12|S1|P|2.5\rSCH|1\rPID|1||Q3\r"
                                    f"AIS|1||^Treatment|{start}\rAIP|1||1\r")
                assert "MSA|AE|S1|" in reply and "ERR||AIS^1^4|102^" in reply, reply
            two = ("MSH|^~\\&|L|F|C|M|20300312||ADT^A04|D1|P|2.5\rPID|1||Q7||Quest^Cy||19610101\r"
                   "MSH|^~\\&|L|F|C|M|20300312||ADT^A04|D2|P|2.5\rPID|1||Q8||Quest^Di||19610101\r")
            assert "MSA|AR|D1|This MLLP frame holds 2 messages" in _mllp(port, two)
            # A connection left open, mid-frame, when the signal comes.
            with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
                conn.sendall(b"\x0bMSH|^~\\&|L|F|C|M|20300312||ADT^A04|E1|P|2.5\r")
                time.sleep(0.2)
                _stops_within(proc, sig, 2.0)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode == 0, proc.stdout.read().decode()[-500:]
        assert f"stopped ({signal.Signals(sig).name})" in proc.stdout.read().decode()
    engine = create_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        assert not s.exec(select(Patient).where(Patient.mrn.in_(["Q7", "Q8"]))).all()
    engine.dispose()


def test_hl7_ingest_reads_past_a_bad_time_and_reads_batches(tmp_path):
    db = tmp_path / "b.db"
    assert run(["demo", "--patients", "5", "--now", "2030-03-12T15:10:00+00:00"], db).returncode == 0
    feed = tmp_path / "feed.hl7"
    feed.write_text(
        "MSH|^~\\&|L|F|C|M|20300312||ADT^A04|S0|P|2.5\nPID|1||Q4||Quest^Di||19600101\n"
        "MSH|^~\\&|L|F|C|M|20300312||SIU^S12|S1|P|2.5\nSCH|1\nPID|1||Q4\nAIS|1||^Treatment|000101010000+1400\nAIP|1||1\n"
        "MSH|^~\\&|L|F|C|M|20300312||ADT^A04|S2|P|2.5\nPID|1||Q5||Quest^Eve||19600101\n"
    )
    out = run(["hl7", "ingest", str(feed), "--username", "reception"], db)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "MSA|AE|S1|The start time" in out.stdout and "MSA|AA|S2" in out.stdout
    batch = tmp_path / "batch.hl7"
    body = ("MSH|^~\\&|L|F|C|M|20300312||ADT^A04|X1|P|2.5\nPID|1||Q6||Quest^Fay||19600101\n"
            "MSH|^~\\&|L|F|C|M|20300312||ADT^A04|X2|P|2.5\nPID|1||Q9||Quest^Gil||19600101\n")
    batch.write_text("FHS|^~\\&|L\nBHS|^~\\&|L\n" + body + "BTS|3\nFTS|1\n")
    out = run(["hl7", "ingest", str(batch), "--username", "reception"], db)
    assert out.returncode == 1 and "holds 3 messages (BTS-1) but holds 2" in out.stderr and "MSA" not in out.stdout
    batch.write_text("FHS|^~\\&|L\nBHS|^~\\&|L\n" + body + "BTS|2\nFTS|1\n")
    out = run(["hl7", "ingest", str(batch), "--username", "reception"], db)
    assert out.returncode == 0 and "MSA|AA|X1" in out.stdout and "MSA|AA|X2" in out.stdout, out.stdout + out.stderr
