"""Outcome measure scores (Observation), allergies, medications and insurance (Coverage)
through the FHIR API: valid R4, the role and clinician-scope rules, audit rows, export."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from clinic_app.models import AuditLog, Coverage, MeasureResult, PatientAllergy, PatientMedication
from clinic_app.services.charting import charting, history, measures
from clinic_app.services.interop.fhir import bulk as fhir_bulk
from clinic_app.services.interop.fhir import mapping as fhir_map
from clinic_app.services.interop.fhir import write as fhir_write
from clinic_app.services.revenue import payers
from tests.api.conftest import ALL_READ, validate
from tests.services.helpers import charted_note, now_at


def entries(bundle):
    return [e["resource"] for e in bundle.get("entry", [])]


@pytest.fixture
def charted(session, clinic):
    """Cara Diaz's signed visit with an NPRS of 4, an allergy, two medications (one stopped)
    and a primary coverage."""
    appt, note = charted_note(session, clinic)
    result = measures.record(session, actor=clinic.clinician, note_id=note.id, code="NPRS", values=[4])
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id, now=now_at("09:40"))
    allergy = history.add_allergy(session, actor=clinic.clinician, patient_id=appt.patient_id, substance="Latex",
                                  reaction="Hives", confirm=True)
    med = history.add_medication(session, actor=clinic.clinician, patient_id=appt.patient_id, name="Ibuprofen",
                                 drug_class="NSAID", dose="400 mg as needed", confirm=True)
    old = history.add_medication(session, actor=clinic.clinician, patient_id=appt.patient_id, name="Naproxen",
                                 drug_class="NSAID", confirm=True)
    history.stop_medication(session, actor=clinic.clinician, medication_id=old.id)
    payer = payers.create_payer(session, actor=clinic.biller, name="Acme Health", payer_id="ACME01")
    coverage = payers.add_coverage(
        session, actor=clinic.reception, patient_id=appt.patient_id, payer_id=payer.id, member_id="M-123",
        group_number="G9", effective_from=dt.date(2030, 1, 1), effective_to=dt.date(2030, 12, 31),
    )
    session.commit()  # the fixture is the caller
    return appt, note, result, allergy, med, coverage


def test_new_types_read_and_search_as_valid_r4_with_the_clinics_values(api, token, clinic, charted):
    appt, _note, result, allergy, med, coverage = charted
    clin, biller = token("clin", ALL_READ), token("biller", ALL_READ)
    for kind, headers in (("Observation", clin), ("AllergyIntolerance", clin), ("MedicationStatement", clin), ("Coverage", biller)):
        bundle = api.get(f"/fhir/{kind}", params={"patient": f"Patient/{appt.patient_id}"}, headers=headers).json()
        validate(bundle)
        assert bundle["total"] >= 1, kind
        for resource in entries(bundle):
            validate(resource)
            one = api.get(f"/fhir/{kind}/{resource['id']}", headers=headers)
            assert one.status_code == 200 and one.json() == resource

    obs = api.get(f"/fhir/Observation/{result.id}", headers=clin).json()
    assert obs["code"]["coding"][0]["code"] == "NPRS" and obs["code"]["text"] == "Numeric Pain Rating Scale"
    assert obs["valueQuantity"]["value"] == 4 and obs["status"] == "final"
    assert obs["subject"] == {"reference": f"Patient/{appt.patient_id}"}
    assert obs["encounter"] == {"reference": f"Encounter/{appt.id}"}
    assert obs["effectiveDateTime"] == fhir_map.instant(result.recorded_at)

    allergy_r = api.get(f"/fhir/AllergyIntolerance/{allergy.id}", headers=clin).json()
    assert allergy_r["code"]["text"] == "Latex" and allergy_r["reaction"][0]["manifestation"][0]["text"] == "Hives"
    assert allergy_r["clinicalStatus"]["coding"][0]["code"] == "active"

    meds = entries(api.get("/fhir/MedicationStatement", params={"patient": str(appt.patient_id)}, headers=clin).json())
    assert sorted((m["medicationCodeableConcept"]["text"], m["status"]) for m in meds) == [("Ibuprofen", "active"), ("Naproxen", "stopped")]
    active = entries(api.get("/fhir/MedicationStatement", params={"status": "active"}, headers=clin).json())
    assert [m["id"] for m in active] == [str(med.id)] and active[0]["dosage"][0]["text"] == "400 mg as needed"

    cov = api.get(f"/fhir/Coverage/{coverage.id}", headers=biller).json()
    assert cov["subscriberId"] == "M-123" and cov["order"] == 1
    assert cov["payor"][0]["display"] == "Acme Health" and cov["payor"][0]["identifier"]["value"] == "ACME01"
    assert cov["relationship"]["coding"][0]["code"] == "self"
    assert cov["period"] == {"start": "2030-01-01", "end": "2030-12-31"}
    assert cov["beneficiary"] == {"reference": f"Patient/{appt.patient_id}"}


def test_observation_search_by_date_and_code(api, token, clinic, charted):
    _, _, result, *_ = charted
    h = token("clin", ALL_READ)
    day = result.recorded_at.date()
    found = api.get("/fhir/Observation", params={"date": day.isoformat()}, headers=h).json()
    assert [o["id"] for o in entries(found)] == [str(result.id)]
    later = api.get("/fhir/Observation", params={"date": f"ge{(day + dt.timedelta(days=1)).isoformat()}"}, headers=h).json()
    assert entries(later) == []
    assert entries(api.get("/fhir/Observation", params={"code": "LEFS"}, headers=h).json()) == []
    bad = api.get("/fhir/Observation", params={"date": "yesterday"}, headers=h)
    assert bad.status_code == 400 and "not a search date" in bad.text


def test_roles_and_clinician_scope_apply_and_views_are_audited(api, token, clinic, charted, session):
    appt, _, result, allergy, _, coverage = charted
    reception, clin2 = token("reception", ALL_READ), token("clin2", ALL_READ)
    # Reception reads insurance but not clinical data; clinicians read clinical data but not insurance.
    assert api.get(f"/fhir/Observation/{result.id}", headers=reception).status_code == 403
    assert api.get(f"/fhir/AllergyIntolerance/{allergy.id}", headers=token("biller", ALL_READ)).status_code == 403
    assert api.get(f"/fhir/Coverage/{coverage.id}", headers=token("clin", ALL_READ)).status_code == 403
    assert api.get(f"/fhir/Coverage/{coverage.id}", headers=reception).status_code == 200
    # A clinician who has never seen the patient sees none of it.
    assert api.get(f"/fhir/AllergyIntolerance/{allergy.id}", headers=clin2).status_code == 404
    assert api.get("/fhir/Observation", headers=clin2).json()["total"] == 0
    # A token scoped to patients only cannot read observations.
    assert api.get(f"/fhir/Observation/{result.id}", headers=token("clin", "user/Patient.read")).status_code == 403
    api.get(f"/fhir/Observation/{result.id}", headers=token("clin", ALL_READ))
    rows = session.exec(select(AuditLog).where(AuditLog.entity == "fhir.Observation")).all()
    assert [(r.action, r.entity_id, r.patient_id) for r in rows] == [("view", result.id, appt.patient_id)]


def test_capability_statement_and_export_include_the_new_types(api, clinic, charted, session, tmp_path):
    kinds = {x["type"]: x for x in api.get("/fhir/metadata").json()["rest"][0]["resource"]}
    for kind in ("Observation", "AllergyIntolerance", "MedicationStatement", "Coverage"):
        assert {"name": "patient", "type": "reference"} in kinds[kind]["searchParam"]
    assert {"name": "date", "type": "date"} in kinds["Observation"]["searchParam"]
    counts = fhir_bulk.export_ndjson(session, actor=None, out_dir=tmp_path / "out")
    assert counts["Observation"] == 1 and counts["AllergyIntolerance"] == 1
    assert counts["MedicationStatement"] == 2 and counts["Coverage"] == 1
    for kind in ("Observation", "AllergyIntolerance", "MedicationStatement", "Coverage"):
        for line in (tmp_path / "out" / f"{kind}.ndjson").read_text().splitlines():
            validate(json.loads(line))


def test_reimporting_the_clinics_own_clinical_records_adds_nothing_twice(clinic, charted, session, tmp_path):
    fhir_bulk.export_ndjson(session, actor=None, out_dir=tmp_path / "out", types=("Observation", "AllergyIntolerance", "MedicationStatement", "Coverage"))
    bundle = fhir_bulk.bundle_from_ndjson(tmp_path / "out")
    assert len(bundle["entry"]) == 5
    before = {m: len(session.exec(select(m)).all()) for m in (MeasureResult, PatientAllergy, PatientMedication, Coverage)}
    response = fhir_write.import_bundle(session, actor=clinic.admin, bundle=bundle)
    # Each entry is matched to the record already there: same location, nothing added.
    assert sorted(e["response"]["location"].split("/")[0] for e in response["entry"]) == sorted(
        e["resource"]["resourceType"] for e in bundle["entry"])
    assert {m: len(session.exec(select(m)).all()) for m in before} == before
