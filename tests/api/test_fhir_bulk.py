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
    Coverage,
    Location,
    MeasureResult,
    Note,
    NoteDiagnosis,
    NoteProcedure,
    OutcomeMeasure,
    Patient,
    PatientAllergy,
    PatientMedication,
    Payer,
    Provider,
    Room,
    User,
)
from clinic_app.services.interop.fhir import bulk as fhir_bulk
from clinic_app.services.interop.fhir import mapping as fhir_map
from clinic_app.services.interop.fhir import write as fhir_write
from clinic_app.services.platform import demo
from clinic_app.services.platform.errors import InvalidInput, SlotTaken
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
        "measures": sorted(
            (x.code, x.name, x.items, x.item_min, x.item_max, x.scoring, x.mcid, x.higher_is_better)
            for x in session.exec(select(OutcomeMeasure))
        ),
        "scores": sorted(
            (visits[n.appointment_id], m.measure_code, m.item_values, m.item_labels, m.score, m.recorded_at, n.signed_at is not None)
            for m, n in session.exec(select(MeasureResult, Note).join(Note, Note.id == MeasureResult.note_id))
        ),
        "allergies": sorted(
            (mrn[x.patient_id], x.substance, x.reaction, x.active, x.recorded_at) for x in session.exec(select(PatientAllergy))
        ),
        "medications": sorted(
            (mrn[x.patient_id], x.name, x.drug_class, x.dose, x.active, x.recorded_at)
            for x in session.exec(select(PatientMedication))
        ),
        "coverages": sorted(
            (mrn[c.patient_id], p.name, p.payer_id, c.member_id, c.group_number, c.priority, c.relationship,
             c.subscriber_first_name, c.subscriber_last_name, c.subscriber_birth_date, c.address, c.city, c.state,
             c.zip_code, c.effective_from, c.effective_to, c.active)
            for c, p in session.exec(select(Coverage, Payer).join(Payer, Payer.id == Coverage.payer_id))
        ),
    }


def add_clinical_records(session: Session) -> None:
    """Scores (a built-in and a clinic-defined measure, on draft and signed notes), allergies,
    medications and a dependant's coverage: what the demo clinic lacks but a clinic has."""
    user = session.exec(select(User).where(User.role == "clinician")).first()
    drafts = session.exec(select(Note).where(Note.signed_at.is_(None)).order_by(Note.id)).all()
    assert len(drafts) >= 2
    session.add(OutcomeMeasure(code="ODI", name="Oswestry Disability Index", items="Pain\nSitting\nWalking",
                               item_min=0, item_max=5, scoring="sum", mcid=6, higher_is_better=False))
    for note, (code, values, labels, score) in zip(drafts[:2], [
        ("PSFS", [3, 5, 7], ["Climb stairs", "Lift child", "Run 5 km"], 5.0),
        ("ODI", [2, 3, 1], ["Pain", "Sitting", "Walking"], 6.0),
    ], strict=True):
        session.add(MeasureResult(note_id=note.id, patient_id=note.patient_id, measure_code=code, item_values=json.dumps(values),
                                  item_labels=json.dumps(labels), score=score, recorded_by_user_id=user.id,
                                  recorded_at=NOW - dt.timedelta(days=1)))
        session.add(MeasureResult(note_id=note.id, patient_id=note.patient_id, measure_code="NPRS", item_values="[6]",
                                  item_labels=json.dumps(["Pain now (0 = no pain, 10 = worst imaginable)"]), score=6.0,
                                  recorded_by_user_id=user.id, recorded_at=NOW - dt.timedelta(days=1)))
    session.flush()
    drafts[0].signed_at = NOW  # a signed note keeps its scores
    patient = session.get(Patient, drafts[0].patient_id)
    session.add_all([
        PatientAllergy(patient_id=patient.id, substance="Penicillin", reaction="Hives", recorded_by_user_id=user.id, recorded_at=NOW),
        PatientAllergy(patient_id=patient.id, substance="Latex", active=False, recorded_by_user_id=user.id, recorded_at=NOW),
        PatientMedication(patient_id=patient.id, name="Ibuprofen", drug_class="nsaid", dose="400 mg", recorded_by_user_id=user.id,
                          recorded_at=NOW),
        PatientMedication(patient_id=patient.id, name="Naproxen", drug_class="nsaid", active=False, recorded_by_user_id=user.id,
                          recorded_at=NOW),
        Coverage(patient_id=patient.id, payer_id=session.exec(select(Payer)).first().id, member_id="DEP123", priority=2,
                 relationship="child", subscriber_first_name="Ana", subscriber_last_name="Ruiz",
                 subscriber_birth_date=dt.date(1980, 5, 1), address="1 Main St", city="Albany", state="NY", zip_code="12207",
                 effective_from=dt.date(2029, 1, 1), effective_to=dt.date(2031, 12, 31), active=True),
    ])
    session.commit()


@pytest.fixture
def demo_clinic(session, fast_hash):
    demo.load(session, patients=25, now=NOW)
    session.commit()  # the fixture is the caller
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
    add_clinical_records(demo_clinic)
    before = snapshot(demo_clinic)
    assert len(before["appointments"]) > 100 and before["charges"] and any(n[4] is None for n in before["notes"].values())
    assert len(before["scores"]) == 4 and any(s[-1] for s in before["scores"]) and len(before["measures"]) == 1
    assert len(before["allergies"]) == 2 and len(before["medications"]) == 2 and len(before["coverages"]) > 10
    counts = fhir_bulk.export_ndjson(demo_clinic, actor=None, out_dir=tmp_path / "out")
    assert counts["Patient"] == 25 and counts["Organization"] == 1
    for kind in counts:  # every line is a valid resource
        for line in (tmp_path / "out" / f"{kind}.ndjson").read_text().splitlines()[:40]:
            validate(json.loads(line))
    demo_clinic.commit()  # the export's audit record
    demo_clinic.close()
    target = empty_engine()
    with Session(target, expire_on_commit=False) as fresh:
        assert snapshot(fresh)["patients"] == []
        response = fhir_write.import_bundle(fresh, actor=None, bundle=fhir_bulk.bundle_from_ndjson(tmp_path / "out"))
        fresh.commit()  # the test is the caller
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
        fhir_write.import_bundle(session, actor=clinic.admin, bundle=bundle)
    session.rollback()
    assert session.exec(select(func.count()).select_from(Patient)).one() == patients_before
    # An appointment clashing with one already there: refused by the database rule, nothing kept.
    from tests.services.helpers import book

    appt = book(session, clinic, "09:00")
    clash = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "identifier": [{"system": fhir_map.MRN_SYSTEM, "value": "Z9"}],
                      "name": [{"family": "Zed", "given": ["Zo"]}], "birthDate": "1991-01-01"}, "fullUrl": "urn:uuid:p1"},
        {"resource": {"resourceType": "Appointment", "status": "booked", "appointmentType": {"text": "Treatment"},
                      "start": appt.starts_at.isoformat(), "end": appt.ends_at.isoformat(),
                      "participant": [{"actor": {"reference": "urn:uuid:p1"}, "status": "accepted"},
                                      {"actor": {"reference": f"Practitioner/{appt.provider_id}"}, "status": "accepted"}]}},
    ]}
    # urn:uuid references resolve to the new patient; the provider is an existing one.
    with pytest.raises(SlotTaken, match=r"Entry 2 \(Appointment\): The provider already has an appointment at that time. Nothing was imported"):
        fhir_write.import_bundle(session, actor=clinic.admin, bundle=clash)
    session.rollback()
    assert session.exec(select(Patient).where(Patient.mrn == "Z9")).first() is None
    assert session.exec(select(func.count()).select_from(Appointment)).one() == 1
    # A value the database refuses (an NPI of the wrong length): the entry is named, nothing kept.
    bad_npi = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Location", "id": "9", "name": "New Site"}},
        {"resource": {"resourceType": "Practitioner", "name": [{"text": "Nia Npi"}], "identifier": [{"system": fhir_map.NPI_SYSTEM, "value": "123"}],
                      "extension": [{"url": fhir_map.EXT_LOCATION, "valueReference": {"reference": "Location/9"}}]}},
    ]}
    with pytest.raises(InvalidInput, match=r"Entry 2 \(Practitioner\) breaks a rule of the clinic's data"):
        fhir_write.import_bundle(session, actor=clinic.admin, bundle=bad_npi)
    session.rollback()
    assert session.exec(select(Location).where(Location.name == "New Site")).first() is None


def test_clinical_entries_that_do_not_fit_import_nothing_and_say_why(session, clinic):
    patient = clinic.patients[0]
    ref = {"reference": f"Patient/{patient.id}"}
    allergy = {"resourceType": "AllergyIntolerance", "code": {"text": "Penicillin"}, "patient": ref, "recordedDate": "2030-03-01T10:00:00Z",
               "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                              "code": "active"}]}}
    coverage = {"resourceType": "Coverage", "status": "active", "subscriberId": "M1", "beneficiary": ref, "order": 1,
                "period": {"start": "2030-01-01"}, "payor": [{"display": "Acme Health", "identifier": {"value": "ACME1"}}]}

    def refused(entries, pattern):
        counts = [session.exec(select(func.count()).select_from(m)).one() for m in (PatientAllergy, Coverage, Payer, MeasureResult)]
        with pytest.raises(InvalidInput, match=pattern):
            fhir_write.import_bundle(session, actor=clinic.admin, bundle={"resourceType": "Bundle", "type": "transaction",
                                                                    "entry": [{"resource": r} for r in entries]})
        session.rollback()
        assert [session.exec(select(func.count()).select_from(m)).one() for m in (PatientAllergy, Coverage, Payer, MeasureResult)] == counts

    # A coverage whose start is not a date, after a good allergy: neither is kept.
    refused([allergy, {**coverage, "period": {"start": "soon"}}], r"Entry 2 \(Coverage\): .*period.start: is not in the format.*Nothing was imported")
    # A score for a visit that is neither in the bundle nor in the clinic.
    refused([allergy, {"resourceType": "Observation", "status": "final", "encounter": {"reference": "Encounter/999999"},
                       "code": {"coding": [{"system": fhir_map.MEASURE_SYSTEM, "code": "XYZ"}]}}],
            r"Entry 2 \(Observation\): The reference .* points at no Encounter")
    # The same patient imported twice keeps one allergy and one coverage.
    for _ in range(2):
        fhir_write.import_bundle(session, actor=clinic.admin, bundle={"resourceType": "Bundle", "type": "transaction",
                                                                 "entry": [{"resource": allergy}, {"resource": coverage}]})
    assert len(session.exec(select(PatientAllergy).where(PatientAllergy.patient_id == patient.id)).all()) == 1
    assert len(session.exec(select(Coverage).where(Coverage.patient_id == patient.id, Coverage.member_id == "M1")).all()) == 1
    assert session.exec(select(Payer).where(Payer.payer_id == "ACME1")).one().name == "Acme Health"


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
                                               "birthDate": "1988-08-08", "identifier": [{"system": fhir_map.MRN_SYSTEM, "value": "K1"}]},
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


def test_tasks_are_in_the_bulk_export_open_and_done_and_not_imported(session, clinic, tmp_path):
    from clinic_app.services.tasks import inbox
    from tests.conftest import DAY, at

    morning = at("07:00", DAY)
    mine = inbox.create(session, actor=clinic.reception, patient_id=clinic.patients[0].id, title="Call about the referral",
                        due_on=DAY, queue_role="reception", now=morning)
    done = inbox.create(session, actor=clinic.reception, patient_id=clinic.patients[1].id, title="Scan the card",
                        due_on=DAY, assignee_user_id=clinic.reception.user_id, now=morning)
    session.commit()
    inbox.complete(session, actor=clinic.reception, task_id=done.id, note="Scanned", now=morning + dt.timedelta(hours=3))
    session.commit()
    assert fhir_bulk.export_types("Task") == ("Task",)
    counts = fhir_bulk.export_ndjson(session, actor=clinic.admin, out_dir=tmp_path / "all", types=("Task",))
    assert counts == {"Task": 2}
    tasks = {t["id"]: t for t in map(json.loads, (tmp_path / "all" / "Task.ndjson").read_text().splitlines())}
    for task in tasks.values():
        validate(task)
    assert tasks[str(mine.id)]["status"] == "ready" and tasks[str(done.id)]["status"] == "completed"
    assert tasks[str(mine.id)]["for"] == {"reference": f"Patient/{clinic.patients[0].id}"}
    # _since: only the task closed after it (lastModified is when it opened or closed).
    fhir_bulk.export_ndjson(session, actor=clinic.admin, out_dir=tmp_path / "since", types=("Task",),
                            since=morning + dt.timedelta(hours=1))
    assert [json.loads(x)["id"] for x in (tmp_path / "since" / "Task.ndjson").read_text().splitlines()] == [str(done.id)]
    # The whole export holds them; the bundle made from it for an import leaves them out (rules make them again).
    fhir_bulk.export_ndjson(session, actor=clinic.admin, out_dir=tmp_path / "whole")
    assert (tmp_path / "whole" / "Task.ndjson").exists()
    bundle = fhir_bulk.bundle_from_ndjson(tmp_path / "whole")
    assert bundle["entry"] and not [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Task"]
