"""Creating and updating Patients and Appointments through the API: the booking rules
of services/scheduling hold, bad input changes nothing and says what to fix."""

from __future__ import annotations

from sqlmodel import func, select

from clinic_app.models import Appointment, AuditLog, Patient
from tests.api.conftest import validate
from tests.conftest import at


def new_patient(**over):
    body = {"resourceType": "Patient", "name": [{"family": "Ives", "given": ["Jo"]}], "birthDate": "1975-06-30",
            "telecom": [{"system": "phone", "value": "555-0100"}, {"system": "email", "value": "jo@example.org"}]}
    body.update(over)
    return body


def count(session, model):
    session.rollback()
    return session.exec(select(func.count()).select_from(model)).one()


def test_reception_registers_and_updates_a_patient(api, token, clinic, session):
    h = token("reception")
    r = api.post("/fhir/Patient", json=new_patient(), headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    validate(created)
    assert r.headers["location"].endswith(f"/fhir/Patient/{created['id']}")
    assert created["identifier"][0]["value"].startswith("P")  # an MRN was assigned
    created["name"][0]["family"] = "Ives-Hart"
    created["telecom"] = [{"system": "phone", "value": "555-0199"}]
    r = api.put(f"/fhir/Patient/{created['id']}", json=created, headers=h)
    assert r.status_code == 200, r.text
    session.rollback()
    patient = session.get(Patient, int(created["id"]))
    assert (patient.last_name, patient.phone, patient.email) == ("Ives-Hart", "555-0199", "")
    actions = session.exec(select(AuditLog.action).where(AuditLog.patient_id == patient.id).order_by(AuditLog.id)).all()
    assert actions == ["create", "update"]


def test_bad_patients_are_refused_with_a_reason_and_nothing_saved(api, token, clinic, session):
    h = token("reception")
    before = count(session, Patient)
    cases = [
        (new_patient(birthDate="1975-02-30"), "Patient.birthDate: is not a date and time that exists"),
        (new_patient(birthDate="2999-01-01"), "between 1900-01-01 and today"),
        (new_patient(name=[{"given": ["Jo"]}]), "family name"),
        (new_patient(identifier=[{"system": "urn:clinic-app:mrn", "value": "T1"}]), "MRN T1 already belongs"),
        (new_patient(telecom=[{"system": "email", "value": "not-an-email"}]), "not an e-mail"),
        ({"resourceType": "Appointment"}, "resourceType must be Patient"),
    ]
    for body, message in cases:
        r = api.post("/fhir/Patient", json=body, headers=h)
        assert r.status_code == 400, (body, r.text)
        assert message in r.json()["issue"][0]["diagnostics"]
    r = api.post("/fhir/Patient", content=b"{not json", headers=h)
    assert r.status_code == 400 and "not JSON" in r.text
    assert count(session, Patient) == before
    # A clinician may read but not register (same rule as the screens).
    assert api.post("/fhir/Patient", json=new_patient(), headers=token("clin")).status_code == 403
    assert count(session, Patient) == before


def booking(clinic, hhmm="10:00", patient=0, provider=0, room=None, kind="Treatment"):
    participants = [{"actor": {"reference": f"Patient/{clinic.patients[patient].id}"}, "status": "accepted"},
                    {"actor": {"reference": f"Practitioner/{clinic.providers[provider].id}"}, "status": "accepted"}]
    if room is not None:
        participants.append({"actor": {"reference": f"Location/room-{clinic.rooms[room].id}"}, "status": "accepted"})
    return {"resourceType": "Appointment", "status": "booked", "appointmentType": {"text": kind},
            "start": at(hhmm).isoformat(), "participant": participants}


def test_booking_through_the_api_keeps_every_booking_rule(api, token, clinic, session):
    h = token("reception")
    r = api.post("/fhir/Appointment", json=booking(clinic, room=0), headers=h)
    assert r.status_code == 201, r.text
    made = r.json()
    validate(made)
    assert made["status"] == "booked" and made["minutesDuration"] == 30
    # The same provider at an overlapping time: refused, naming the clash.
    r = api.post("/fhir/Appointment", json=booking(clinic, "10:15", patient=1), headers=h)
    assert r.status_code == 409 and "Ann Able, PT already has an appointment 10:00-10:30" in r.text
    # The same room with the other provider: refused.
    r = api.post("/fhir/Appointment", json=booking(clinic, "10:15", patient=1, provider=1, room=0), headers=h)
    assert r.status_code == 409 and "Room 1 is booked" in r.text
    # In the past, an unknown type, no patient: refused with what to fix.
    past = booking(clinic)
    past["start"] = "2001-01-01T10:00:00Z"
    assert "has already passed" in api.post("/fhir/Appointment", json=past, headers=h).text
    assert "one of the clinic's visit types" in api.post("/fhir/Appointment", json=booking(clinic, "12:00", kind="Massage"), headers=h).text
    nobody = booking(clinic, "12:00")
    nobody["participant"] = nobody["participant"][1:]
    assert "Name the patient" in api.post("/fhir/Appointment", json=nobody, headers=h).text
    assert count(session, Appointment) == 1
    # Billers may not book.
    assert api.post("/fhir/Appointment", json=booking(clinic, "13:00"), headers=token("biller")).status_code == 403
    assert count(session, Appointment) == 1


def test_appointment_update_moves_status_only(api, token, clinic, session):
    h = token("reception")
    made = api.post("/fhir/Appointment", json=booking(clinic, "10:00"), headers=h).json()
    moved = dict(made, start=at("11:00").isoformat())
    r = api.put(f"/fhir/Appointment/{made['id']}", json=moved, headers=h)
    assert r.status_code == 400 and "cannot be changed through the API" in r.text
    cancel = dict(made, status="cancelled", cancelationReason={"text": "patient called"})
    r = api.put(f"/fhir/Appointment/{made['id']}", json=cancel, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["cancelationReason"] == {"text": "patient called"}
    again = api.put(f"/fhir/Appointment/{made['id']}", json=dict(made, status="arrived"), headers=h)
    assert again.status_code == 409 and "Cancelled cannot become Arrived" in again.text
    assert api.put(f"/fhir/Appointment/{made['id']}", json=dict(made, status="fulfilled"), headers=h).status_code == 400
