"""Whole-clinic export (Bulk Data style: kick off, poll, fetch NDJSON) and import of a
transaction Bundle: export, import into an empty database, the same clinic."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time

import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel, func, select

from clinic_app.db import make_engine
from clinic_app.models import (
    Appointment,
    AppointmentType,
    AuditLog,
    Charge,
    Location,
    Note,
    NoteDiagnosis,
    NoteProcedure,
    Patient,
    Provider,
    Room,
)
from clinic_app.services import demo, fhir
from clinic_app.services.errors import InvalidInput, SlotTaken
from tests.api.conftest import validate

NOW = dt.datetime(2030, 3, 12, 15, 10, tzinfo=dt.UTC)


def snapshot(session: Session) -> dict:
    """The clinic's data by natural keys (ids may differ after an import)."""
    session.rollback()
    loc = {x.id: x.name for x in session.exec(select(Location))}
    prov = {x.id: x.name for x in session.exec(select(Provider))}
    mrn = {x.id: x.mrn for x in session.exec(select(Patient))}
    room = {x.id: x.name for x in session.exec(select(Room))}
    kind = {x.id: x.name for x in session.exec(select(AppointmentType))}
    visits = {}
    for a in session.exec(select(Appointment)):
        visits[a.id] = (mrn[a.patient_id], prov[a.provider_id], a.starts_at.isoformat())
    notes = {}
    for n in session.exec(select(Note)):
        dx = [d.code for d in session.exec(select(NoteDiagnosis).where(NoteDiagnosis.note_id == n.id).order_by(NoteDiagnosis.id))]
        px = [(p.code, p.units) for p in session.exec(select(NoteProcedure).where(NoteProcedure.note_id == n.id).order_by(NoteProcedure.id))]
        notes[visits[n.appointment_id]] = (n.subjective, n.objective, n.assessment, n.plan, n.signed_at, dx, px)
    return {
        "locations": sorted((x.name, x.timezone, x.address, x.active) for x in session.exec(select(Location))),
        "rooms": sorted((loc[x.location_id], x.name, x.active) for x in session.exec(select(Room))),
        "providers": sorted((x.name, x.discipline, x.npi, loc[x.location_id], x.active) for x in session.exec(select(Provider))),
        "patients": sorted((x.mrn, x.first_name, x.last_name, x.birth_date, x.phone, x.email, x.active) for x in session.exec(select(Patient))),
        "appointments": sorted(
            (*visits[a.id], a.ends_at, loc[a.location_id], room.get(a.room_id), kind[a.appointment_type_id], a.status,
             a.arrived_at, a.session_started_at, a.cancel_reason)
            for a in session.exec(select(Appointment))
        ),
        "notes": notes,
        "charges": sorted(
            (visits[c.appointment_id], c.line_no, c.code, c.units, c.unit_price_cents, c.amount_cents, c.diagnosis_codes)
            for c in session.exec(select(Charge))
        ),
    }


@pytest.fixture
def demo_clinic(session, fast_hash):
    demo.load(session, patients=25, now=NOW)
    return session


@pytest.fixture
def empty_engine(engine, sqlite_template, tmp_path):
    """An empty migrated database of the same kind as ``engine``: a fresh SQLite file, or
    (PostgreSQL) the same database emptied once the source has been read."""

    def make():
        if engine.dialect.name == "sqlite":
            path = tmp_path / "empty.db"
            shutil.copy(sqlite_template, path)
            return make_engine(f"sqlite:///{path}")
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        return engine

    return make


def test_export_then_import_into_an_empty_database_gives_the_same_clinic(demo_clinic, empty_engine, tmp_path):
    before = snapshot(demo_clinic)
    assert len(before["appointments"]) > 100 and before["charges"] and any(n[4] is None for n in before["notes"].values())
    counts = fhir.export_ndjson(demo_clinic, actor=None, out_dir=tmp_path / "out")
    assert counts["Patient"] == 25 and counts["Organization"] == 1
    for kind in counts:  # every line is a valid resource
        for line in (tmp_path / "out" / f"{kind}.ndjson").read_text().splitlines()[:40]:
            validate(json.loads(line))
    demo_clinic.close()
    target = empty_engine()
    with Session(target, expire_on_commit=False) as fresh:
        assert snapshot(fresh)["patients"] == []
        response = fhir.import_bundle(fresh, actor=None, bundle=fhir.bundle_from_ndjson(tmp_path / "out"))
        assert response["type"] == "transaction-response"
        validate(response)
        assert snapshot(fresh) == before
        # The import is in the audit log.
        assert fresh.exec(select(func.count()).select_from(AuditLog).where(AuditLog.action == "import")).one() == 1


def test_a_bad_entry_imports_nothing_and_names_the_entry(session, clinic):
    patients_before = session.exec(select(func.count()).select_from(Patient)).one()
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "New", "given": ["One"]}], "birthDate": "1990-01-01"}},
        {"resource": {"resourceType": "Patient", "name": [{"family": "Bad"}], "birthDate": "1990-01-01"}},
    ]}
    with pytest.raises(InvalidInput, match=r"Entry 2 \(Patient\).*family name and a given name.*Nothing was imported"):
        fhir.import_bundle(session, actor=clinic.admin, bundle=bundle)
    session.rollback()
    assert session.exec(select(func.count()).select_from(Patient)).one() == patients_before
    # An appointment clashing with one already there: refused by the database rule, nothing kept.
    from tests.services.helpers import book

    appt = book(session, clinic, "09:00")
    clash = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "identifier": [{"system": fhir.MRN_SYSTEM, "value": "Z9"}],
                      "name": [{"family": "Zed", "given": ["Zo"]}], "birthDate": "1991-01-01"}, "fullUrl": "urn:uuid:p1"},
        {"resource": {"resourceType": "Appointment", "status": "booked", "appointmentType": {"text": "Treatment"},
                      "start": appt.starts_at.isoformat(), "end": appt.ends_at.isoformat(),
                      "participant": [{"actor": {"reference": "urn:uuid:p1"}, "status": "accepted"},
                                      {"actor": {"reference": f"Practitioner/{appt.provider_id}"}, "status": "accepted"}]}},
    ]}
    # urn:uuid references resolve to the new patient; the provider is an existing one.
    with pytest.raises(SlotTaken, match=r"Entry 2 \(Appointment\): The provider already has an appointment at that time. Nothing was imported"):
        fhir.import_bundle(session, actor=clinic.admin, bundle=clash)
    session.rollback()
    assert session.exec(select(Patient).where(Patient.mrn == "Z9")).first() is None
    assert session.exec(select(func.count()).select_from(Appointment)).one() == 1
    # A value the database refuses (an NPI of the wrong length): the entry is named, nothing kept.
    bad_npi = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Location", "id": "9", "name": "New Site"}},
        {"resource": {"resourceType": "Practitioner", "name": [{"text": "Nia Npi"}], "identifier": [{"system": fhir.NPI_SYSTEM, "value": "123"}],
                      "extension": [{"url": fhir.EXT_LOCATION, "valueReference": {"reference": "Location/9"}}]}},
    ]}
    with pytest.raises(InvalidInput, match=r"Entry 2 \(Practitioner\) breaks a rule of the clinic's data"):
        fhir.import_bundle(session, actor=clinic.admin, bundle=bad_npi)
    session.rollback()
    assert session.exec(select(Location).where(Location.name == "New Site")).first() is None


def test_bulk_export_is_kicked_off_polled_and_fetched_by_an_admin_only(api, token, clinic, signed_visit, session):
    admin = token("admin", "system/*.read")
    assert api.get("/fhir/$export", headers=token("reception", "user/*.read", )).status_code in (400, 403)
    r = api.get("/fhir/$export", headers={**token("reception", "system/*.read"), "Prefer": "respond-async"})
    assert r.status_code == 403
    r = api.get("/fhir/$export", headers=admin)
    assert r.status_code == 400 and "Prefer: respond-async" in r.text
    r = api.get("/fhir/$export", headers={**admin, "Prefer": "respond-async"})
    assert r.status_code == 202, r.text
    status_url = r.headers["content-location"]
    deadline = time.monotonic() + 60
    while (poll := api.get(status_url, headers=admin)).status_code == 202:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert poll.status_code == 200, poll.text
    manifest = poll.json()
    assert manifest["requiresAccessToken"] is True
    urls = {o["type"]: o["url"] for o in manifest["output"]}
    assert {"Patient", "Appointment", "Claim", "DocumentReference", "Condition"} <= set(urls)
    # Another user's token cannot see the job or its files.
    assert api.get(status_url, headers=token("admin", "system/*.read") | {}).status_code == 200  # same user, new token
    assert api.get(urls["Patient"], headers=token("biller", "user/*.read")).status_code == 404
    lines = api.get(urls["Patient"], headers=admin).text.splitlines()
    assert sorted(json.loads(x)["identifier"][0]["value"] for x in lines) == ["T0", "T1", "T2"]
    session.rollback()
    actions = set(session.exec(select(AuditLog.action).where(AuditLog.entity == "clinic")).all())
    assert {"export", "export_download"} <= actions
    assert api.delete(status_url, headers=admin).status_code == 202
    assert api.get(status_url, headers=admin).status_code == 404
    # _type narrows the export; a type not exported is refused with the list.
    r = api.get("/fhir/$export", params={"_type": "Patient,Claim"}, headers={**admin, "Prefer": "respond-async"})
    assert r.status_code == 202
    while (poll := api.get(r.headers["content-location"], headers=admin)).status_code == 202:
        time.sleep(0.2)
    assert sorted(o["type"] for o in poll.json()["output"]) == ["Claim", "Patient"]
    r = api.get("/fhir/$export", params={"_type": "Basic"}, headers={**admin, "Prefer": "respond-async"})
    assert r.status_code == 400 and "'Basic' is not exported" in r.text


def test_transaction_bundle_posted_to_the_api_by_an_admin(api, token, clinic, session):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:a", "resource": {"resourceType": "Patient", "name": [{"family": "Kim", "given": ["Lee"]}],
                                               "birthDate": "1988-08-08", "identifier": [{"system": fhir.MRN_SYSTEM, "value": "K1"}]},
         "request": {"method": "POST", "url": "Patient"}},
    ]}
    assert api.post("/fhir", json=bundle, headers=token("reception")).status_code == 403
    r = api.post("/fhir", json=bundle, headers=token("admin", "system/*.write"))
    assert r.status_code == 200, r.text
    assert r.json()["entry"][0]["response"]["status"] == "201 Created"
    session.rollback()
    assert session.exec(select(Patient).where(Patient.mrn == "K1")).one().last_name == "Kim"


def test_an_export_that_never_finished_says_so(api, token, clinic, tmp_path):
    import os

    from clinic_app.api import fhir as fhir_api

    admin = token("admin", "system/*.read")
    job = "0" * 32
    folder = tmp_path / "exports" / job
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"user_id": clinic.admin.user_id, "request": "x", "transactionTime": "x"}))
    assert api.get(f"/fhir/$export-status/{job}", headers=admin).status_code == 202
    old = time.time() - fhir_api.STALE_EXPORT_SECONDS - 5
    os.utime(folder / "job.json", (old, old))
    r = api.get(f"/fhir/$export-status/{job}", headers=admin)
    assert r.status_code == 400 and "did not finish" in r.text
