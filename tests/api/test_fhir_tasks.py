"""The task inbox as FHIR Task: read and search by owner, status and patient, valid R4, only
the tasks the token's user works, each view audited; Task in the CapabilityStatement."""

from __future__ import annotations

from sqlmodel import select

from clinic_app.models import AuditLog
from clinic_app.services.tasks import inbox
from tests.api.conftest import ALL_READ, validate
from tests.conftest import DAY
from tests.services.helpers import now_at


def entries(bundle):
    return [e["resource"] for e in bundle.get("entry", [])]


def test_tasks_read_and_search_by_owner_status_and_patient(api, token, session, clinic):
    cara, eli = clinic.patients[0], clinic.patients[1]
    queue = inbox.create(session, actor=clinic.reception, patient_id=cara.id, title="Call about the statement",
                         due_on=DAY, queue_role="biller", now=now_at("07:00"))
    given = inbox.create(session, actor=clinic.reception, patient_id=eli.id, title="Explain the copay",
                         due_on=DAY, assignee_user_id=clinic.biller.user_id, now=now_at("07:00"))
    other = inbox.create(session, actor=clinic.reception, patient_id=eli.id, title="Send the exercise sheet",
                         due_on=DAY, assignee_user_id=clinic.clinician.user_id, now=now_at("07:00"))
    session.commit()
    inbox.complete(session, actor=clinic.biller, task_id=given.id, note="Done by phone")
    session.commit()
    biller = token("biller", ALL_READ)

    bundle = api.get("/fhir/Task", headers=biller).json()
    validate(bundle)
    assert {r["id"] for r in entries(bundle)} == {str(queue.id), str(given.id)}  # not the clinician's
    for resource in entries(bundle):
        validate(resource)
    one = api.get(f"/fhir/Task/{queue.id}", headers=biller).json()
    assert one["status"] == "ready" and one["intent"] == "order" and one["for"] == {"reference": f"Patient/{cara.id}"}
    assert one["owner"]["identifier"] == {"system": "urn:clinic:role", "value": "biller"}
    assert one["description"] == "Call about the statement" and one["restriction"]["period"]["end"] == DAY.isoformat()
    assert api.get(f"/fhir/Task/{other.id}", headers=biller).status_code == 404

    def ids(**params):
        return {r["id"] for r in entries(api.get("/fhir/Task", params=params, headers=biller).json())}

    assert ids(status="completed") == {str(given.id)}
    assert ids(status="ready") == {str(queue.id)}
    assert ids(owner=f"urn:clinic:user|{clinic.biller.user_id}") == {str(given.id)}
    assert ids(owner="urn:clinic:role|biller") == {str(queue.id)}
    assert ids(patient=f"Patient/{eli.id}") == {str(given.id)}
    assert api.get("/fhir/Task", params={"code": "x"}, headers=biller).status_code == 400
    assert api.get("/fhir/Task", headers=token("admin", ALL_READ)).status_code == 403
    views = session.exec(select(AuditLog).where(AuditLog.entity == "fhir.Task")).all()
    assert {v.patient_id for v in views} == {cara.id, eli.id}

    task_entry = next(r for r in api.get("/fhir/metadata").json()["rest"][0]["resource"] if r["type"] == "Task")
    assert {p["name"] for p in task_entry["searchParam"]} >= {"owner", "status", "patient"}
