"""FHIR API figures on the demo clinic (300 patients, ~two weeks of visits), SQLite.

Prints: Patient search by name (page of 20) and Appointment search by date, median
and p95 over 200 requests each, through the real routes (Starlette TestClient, one
process, no network); whole-clinic NDJSON export time and size; import of that
export into an empty database (one transaction) time.

Run: ``python bench/fhir_api.py`` (after ``source env.sh``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session
from starlette.testclient import TestClient

from clinic_app.__main__ import migrate
from clinic_app.api import build_api
from clinic_app.db import make_engine
from clinic_app.services.interop.fhir import bulk as fhir_bulk
from clinic_app.services.interop.fhir import write as fhir_write
from clinic_app.services.platform import api_tokens, demo


def timed(client, url, headers, n=200) -> tuple[float, float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        r = client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, r.text
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        url = f"sqlite:///{tmp / 'a.db'}"
        migrate(url)
        engine = make_engine(url)
        with Session(engine, expire_on_commit=False) as s:
            made = demo.load(s)
            _, token = api_tokens.create_token(s, actor=None, username="reception", scopes="user/*.read", days=1)
            s.commit()  # the caller owns the transaction
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(build_api(lambda: engine, export_dir=tmp / "exports")) as client:
            p50, p95 = timed(client, "/fhir/Patient?name=an&_count=20", headers)
            print(f"Patient?name=an (20 per page, audited): median {p50:.1f} ms, p95 {p95:.1f} ms")
            p50, p95 = timed(client, f"/fhir/Appointment?date={demo_day(engine)}&_count=20", headers)
            print(f"Appointment?date=<a day> (20 per page, audited): median {p50:.1f} ms, p95 {p95:.1f} ms")
        start = time.perf_counter()
        with Session(engine) as s:
            counts = fhir_bulk.export_ndjson(s, actor=None, out_dir=tmp / "out")
            s.commit()
        seconds = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (tmp / "out").iterdir())
        print(f"export: {sum(counts.values())} resources ({made['appointments']} appointments) in {seconds:.2f} s, {size / 1e6:.1f} MB NDJSON")
        url2 = f"sqlite:///{tmp / 'b.db'}"
        migrate(url2)
        target = make_engine(url2)
        start = time.perf_counter()
        with Session(target) as s:
            fhir_write.import_bundle(s, actor=None, bundle=fhir_bulk.bundle_from_ndjson(tmp / "out"))
            s.commit()
        print(f"import of that export into an empty database: {time.perf_counter() - start:.2f} s")


def demo_day(engine) -> str:
    from sqlmodel import select

    from clinic_app.models import Appointment

    with Session(engine) as s:
        first = s.exec(select(Appointment).order_by(Appointment.starts_at)).first()
    return first.starts_at.date().isoformat()


if __name__ == "__main__":
    main()
