"""Intake forms (Questionnaire) and answers (QuestionnaireResponse) through the FHIR API: valid
R4 (fhirclient's 4.0.1 models and fhir.resources' R4B), read and search, the clinician-scope rule,
and both in the CapabilityStatement."""

from __future__ import annotations

from clinic_app.services.portal import intake
from tests.api.conftest import ALL_READ, validate
from tests.services.helpers import book, now_at
from tests.services.test_intake import ANSWERS, DOB, new_form, signature


def test_questionnaire_and_responses_read_and_search_as_valid_r4(api, token, session, clinic):
    form = new_form(session, clinic)
    appt = book(session, clinic, "10:00", kind=clinic.evaluation)
    link = intake.issue_link(session, appointment_id=appt.id)
    session.commit()
    intake.save_answers(session, token=link, birth_date=DOB, form_code=form.code, answers=ANSWERS,
                        signatures={"consent_to_treatment": signature()}, complete=True, now=now_at("08:05"))
    session.commit()
    clin, other, reception = token("clin", ALL_READ), token("clin2", ALL_READ), token("reception", ALL_READ)

    q = api.get(f"/fhir/Questionnaire/{form.id}", headers=reception)
    assert q.status_code == 200, q.text
    q = q.json()
    validate(q)
    assert (q["url"], q["version"], q["title"]) == ("urn:clinic-app:intake:NEW-PATIENT", "1", "New patient intake")
    assert {i["linkId"]: i["type"] for i in q["item"]}["conditions"] == "choice"
    found = api.get("/fhir/Questionnaire", params={"url": "urn:clinic-app:intake:NEW-PATIENT", "status": "active"},
                    headers=reception).json()
    validate(found)
    assert [e["resource"]["id"] for e in found["entry"]] == [str(form.id)]

    bundle = api.get("/fhir/QuestionnaireResponse", params={"patient": f"Patient/{appt.patient_id}"}, headers=clin).json()
    validate(bundle)
    assert bundle["total"] == 1
    response = bundle["entry"][0]["resource"]
    validate(response)
    assert response["status"] == "completed" and response["questionnaire"] == "urn:clinic-app:intake:NEW-PATIENT|1"
    assert response["subject"] == {"reference": f"Patient/{appt.patient_id}"}
    signed = next(i for i in response["item"] if i["linkId"] == "consent_to_treatment")
    assert signed["answer"][0]["valueAttachment"]["contentType"] == "application/pdf"
    one = api.get(f"/fhir/QuestionnaireResponse/{response['id']}", headers=clin)
    assert one.status_code == 200 and one.json() == response
    # Another clinician's token sees nothing of this patient; the desk reads no answers at all.
    assert api.get(f"/fhir/QuestionnaireResponse/{response['id']}", headers=other).status_code == 404
    assert api.get("/fhir/QuestionnaireResponse", params={"patient": f"Patient/{appt.patient_id}"},
                   headers=other).json()["total"] == 0
    assert api.get(f"/fhir/QuestionnaireResponse/{response['id']}", headers=reception).status_code == 403

    metadata = api.get("/fhir/metadata").json()
    kinds = {r["type"]: r for r in metadata["rest"][0]["resource"]}
    assert {p["name"] for p in kinds["QuestionnaireResponse"]["searchParam"]} >= {"patient", "encounter", "status"}
    assert "Questionnaire" in kinds
