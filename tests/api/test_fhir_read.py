"""Reading and searching FHIR resources: valid R4 (checked with fhir.resources), the role
and scope rules, audit rows for every PHI view, paging by Bundle links."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from clinic_app.models import AuditLog, Patient
from tests.api.conftest import ALL_READ, validate


def entries(bundle):
    return [e["resource"] for e in bundle.get("entry", [])]


def test_metadata_is_a_capability_statement_needing_no_token(api):
    r = api.get("/fhir/metadata")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    body = r.json()
    validate(body)
    assert body["fhirVersion"] == "4.0.1"
    kinds = {x["type"] for x in body["rest"][0]["resource"]}
    assert kinds == {"Patient", "Practitioner", "Organization", "Location", "Appointment", "Encounter",
                     "Condition", "Claim", "DocumentReference", "Observation", "AllergyIntolerance",
                     "MedicationStatement", "Coverage", "Task", "Questionnaire", "QuestionnaireResponse", "Slot"}


def test_every_type_reads_and_searches_as_valid_r4(api, token, clinic, signed_visit):
    appt, note = signed_visit
    headers = {"reception": token("reception", ALL_READ), "clin": token("clin", ALL_READ), "biller": token("biller", ALL_READ)}
    who = {"Patient": "reception", "Practitioner": "reception", "Organization": "reception", "Location": "reception",
           "Appointment": "reception", "Encounter": "biller", "Condition": "clin", "Claim": "biller",
           "DocumentReference": "clin"}
    for kind, user in who.items():
        r = api.get(f"/fhir/{kind}", headers=headers[user])
        assert r.status_code == 200, (kind, r.text)
        bundle = r.json()
        validate(bundle)
        assert bundle["total"] >= 1, kind
        for resource in entries(bundle):
            validate(resource)
            one = api.get(f"/fhir/{kind}/{resource['id']}", headers=headers[user])
            assert one.status_code == 200 and one.json() == resource
    claim = api.get(f"/fhir/Claim/{appt.id}", headers=headers["biller"]).json()
    assert claim["total"] == {"value": 90.0, "currency": "USD"}  # 2 units of 97110 at $45
    assert claim["item"][0]["productOrService"]["coding"][0] == {"system": "http://www.ama-assn.org/go/cpt", "code": "97110"}
    condition = entries(api.get("/fhir/Condition", params={"patient": f"Patient/{appt.patient_id}"}, headers=headers["clin"]).json())
    assert [c["code"]["coding"][0]["code"] for c in condition] == ["M25.561"]
    doc = api.get(f"/fhir/DocumentReference/{note.id}", headers=headers["clin"]).json()
    assert doc["docStatus"] == "final" and doc["subject"] == {"reference": f"Patient/{appt.patient_id}"}


def test_patient_search_by_name_birthdate_identifier_and_paging(api, token, clinic, session):
    session.add_all([Patient(mrn=f"X{i}", first_name="Pat", last_name=f"Page{i:02d}", birth_date=dt.date(1990, 5, 1)) for i in range(25)])
    session.commit()
    h = token("reception", ALL_READ)
    assert [p["name"][0]["family"] for p in entries(api.get("/fhir/Patient", params={"name": "diaz"}, headers=h).json())] == ["Diaz"]
    assert [p["identifier"][0]["value"] for p in entries(api.get("/fhir/Patient", params={"identifier": "urn:clinic-app:mrn|T1"}, headers=h).json())] == ["T1"]
    assert entries(api.get("/fhir/Patient", params={"identifier": "http://other|T1"}, headers=h).json()) == []
    born = api.get("/fhir/Patient", params=[("birthdate", "ge1980-01-02"), ("birthdate", "lt1980-01-04")], headers=h).json()
    assert sorted(p["birthDate"] for p in entries(born)) == ["1980-01-02", "1980-01-03"]
    first = api.get("/fhir/Patient", params={"birthdate": "1990", "_count": "10"}, headers=h).json()
    assert first["total"] == 25 and len(first["entry"]) == 10
    seen = [p["id"] for p in entries(first)]
    page = first
    while next((x for x in page["link"] if x["relation"] == "next"), None):
        url = next(x for x in page["link"] if x["relation"] == "next")["url"]
        page = api.get(url, headers=h).json()
        seen += [p["id"] for p in entries(page)]
    assert len(seen) == 25 == len(set(seen))
    bad = api.get("/fhir/Patient", params={"birthdate": "someday"}, headers=h)
    assert bad.status_code == 400 and "not a search date" in bad.json()["issue"][0]["diagnostics"]
    unknown = api.get("/fhir/Patient", params={"shoe-size": "9"}, headers=h)
    assert unknown.status_code == 400 and "cannot be searched by 'shoe-size'" in unknown.text


def test_appointment_search_by_patient_date_and_status(api, token, clinic, signed_visit):
    appt, _ = signed_visit
    h = token("reception", ALL_READ)
    found = entries(api.get("/fhir/Appointment", params={"patient": f"Patient/{appt.patient_id}", "date": "2030-03-12", "status": "fulfilled"}, headers=h).json())
    assert [a["id"] for a in found] == [str(appt.id)]
    assert entries(api.get("/fhir/Appointment", params={"date": "2030-03-13"}, headers=h).json()) == []
    assert entries(api.get("/fhir/Appointment", params={"status": "booked"}, headers=h).json()) == []


def test_roles_and_scopes_limit_what_a_token_sees(api, token, clinic, signed_visit, session):
    appt, note = signed_visit
    assert api.get("/fhir/Patient").status_code == 401
    assert api.get("/fhir/Patient", headers={"Authorization": "Bearer clk_nonsense"}).status_code == 401
    # Reception: demographics and schedule, never notes, diagnoses or claims.
    desk = token("reception", ALL_READ)
    for kind in ("DocumentReference", "Condition", "Claim"):
        r = api.get(f"/fhir/{kind}", headers=desk)
        assert r.status_code == 403 and r.json()["resourceType"] == "OperationOutcome"
    # Manager: aggregates only, no patients.
    assert api.get("/fhir/Patient", headers=token("manager", ALL_READ)).status_code == 403
    assert api.get("/fhir/Practitioner", headers=token("manager", ALL_READ)).status_code == 200
    # The other clinician sees neither the patient nor the note.
    other = token("clin2", ALL_READ)
    assert api.get(f"/fhir/DocumentReference/{note.id}", headers=other).status_code == 404
    assert api.get(f"/fhir/Patient/{appt.patient_id}", headers=other).status_code == 404
    assert api.get(f"/fhir/Patient/{appt.patient_id}", headers=token("clin", ALL_READ)).status_code == 200
    # A scope for Patient only: Appointment is refused although the role allows it.
    narrow = token("reception", "user/Patient.read")
    assert api.get("/fhir/Patient", headers=narrow).status_code == 200
    r = api.get("/fhir/Appointment", headers=narrow)
    assert r.status_code == 403 and "scopes" in r.json()["issue"][0]["diagnostics"]
    # Read scopes do not write.
    r = api.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=narrow)
    assert r.status_code == 403


def test_expired_and_revoked_tokens_are_refused(api, token, clinic, session):
    from clinic_app.services.platform import api_tokens

    row, secret = api_tokens.create_token(session, actor=None, username="reception", scopes=ALL_READ, days=1,
                                          now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    session.commit()  # the test is the caller
    assert api.get("/fhir/Patient", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    row, secret = api_tokens.create_token(session, actor=None, username="reception", scopes=ALL_READ, days=1)
    session.commit()
    assert api.get("/fhir/Patient", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    api_tokens.revoke_token(session, actor=clinic.admin, token_id=row.id)
    session.commit()
    assert api.get("/fhir/Patient", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    # Each refused token is in the audit log, with where it came from and never the token.
    session.rollback()
    refused = session.exec(select(AuditLog).where(AuditLog.action == "api_token_refused")).all()
    assert len(refused) == 2 and all(r.source.startswith("api") and secret not in r.detail for r in refused)
    assert refused[0].detail == "GET /fhir/Patient"


def test_every_phi_view_is_audited_with_the_patient(api, token, clinic, signed_visit, session):
    appt, note = signed_visit
    h = token("clin", ALL_READ)
    before = len(session.exec(select(AuditLog)).all())
    api.get(f"/fhir/DocumentReference/{note.id}", headers=h)
    api.get("/fhir/Patient", headers=h)
    api.get("/fhir/Practitioner", headers=h)  # not PHI: no row
    session.rollback()  # a fresh snapshot: the API wrote through its own connection
    rows = session.exec(select(AuditLog).order_by(AuditLog.id)).all()[before:]
    assert [(r.action, r.entity, r.patient_id, r.user_id, r.role) for r in rows] == [
        ("view", "fhir.DocumentReference", appt.patient_id, clinic.clinician.user_id, "clinician"),
        ("view", "fhir.Patient", appt.patient_id, clinic.clinician.user_id, "clinician"),
    ]
    assert rows[0].source.startswith("api")


def test_unsupported_paths_and_methods_answer_in_fhir(api, token, clinic):
    h = token("reception")
    r = api.delete(f"/fhir/Patient/{clinic.patients[0].id}", headers=h)
    assert r.status_code == 405 and r.json()["resourceType"] == "OperationOutcome"
    r = api.get(f"/fhir/Patient/{clinic.patients[0].id}/_history", headers=h)
    assert r.status_code == 404 and "see /fhir/metadata" in r.json()["issue"][0]["diagnostics"]
    r = api.get("/fhir/Basic", headers=h)
    assert r.status_code == 404 and "no 'Basic' resources" in r.text
