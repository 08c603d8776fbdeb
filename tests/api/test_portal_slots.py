"""FHIR Slot search (services/portal/slots.py): the portal's open times as valid R4 Slots, for
roles that may read the schedule; computed from hours, visits and rooms, never stored."""

from __future__ import annotations

from clinic_app.services.frontdesk import scheduling
from tests.api.conftest import ALL_READ, validate
from tests.conftest import at
from tests.services.helpers import now_at


def test_slot_search_answers_the_open_times_as_valid_r4(api, token, session, clinic):
    provider = clinic.providers[0]
    scheduling.set_hours(session, actor=clinic.admin, provider_id=provider.id, weekday=1, windows=[("09:00", "11:00")])
    scheduling.book_appointment(session, actor=clinic.reception, patient_id=clinic.patients[0].id,
                                provider_id=provider.id, appointment_type_id=clinic.treatment.id,
                                starts_at=at("09:30"), now=now_at("07:00"))
    session.commit()
    headers = token("reception", ALL_READ)
    query = (f"/fhir/Slot?schedule=Schedule/{provider.id}&start=ge2030-03-12&start=lt2030-03-13&status=free"
             f"&service-type={clinic.treatment.id}")
    r = api.get(query, headers=headers)
    assert r.status_code == 200, r.text
    bundle = r.json()
    validate(bundle)
    slots = [e["resource"] for e in bundle["entry"]]
    for slot in slots:
        validate(slot)
    assert [s["start"] for s in slots] == [f"2030-03-12T{h}:00Z" for h in ("13:00", "14:00", "14:15", "14:30")]
    assert {s["status"] for s in slots} == {"free"} and slots[0]["end"] == "2030-03-12T13:30:00Z"
    assert slots[0]["schedule"]["reference"] == f"Schedule/{provider.id}"
    # The same slot taken at the desk is gone at once.
    scheduling.book_appointment(session, actor=clinic.reception, patient_id=clinic.patients[1].id,
                                provider_id=provider.id, appointment_type_id=clinic.treatment.id,
                                starts_at=at("10:00"), now=now_at("07:00"))
    session.commit()
    again = [e["resource"]["start"] for e in api.get(query, headers=headers).json()["entry"]]
    assert again == ["2030-03-12T13:00:00Z", "2030-03-12T14:30:00Z"]


def test_slot_search_refuses_what_it_cannot_answer(api, token, clinic):
    headers = token("reception", ALL_READ)
    assert api.get("/fhir/Slot?status=free", headers=headers).status_code == 400
    busy = api.get(f"/fhir/Slot?schedule=Schedule/{clinic.providers[0].id}&status=busy", headers=headers)
    assert busy.status_code == 400 and "free" in busy.json()["issue"][0]["diagnostics"]
    wide = api.get(f"/fhir/Slot?schedule={clinic.providers[0].id}&start=ge2030-03-12&start=lt2030-06-12", headers=headers)
    assert wide.status_code == 400
    manager = api.get(f"/fhir/Slot?schedule={clinic.providers[0].id}", headers=token("manager", ALL_READ))
    assert manager.status_code == 403
    assert api.get(f"/fhir/Slot?schedule={clinic.providers[0].id}").status_code == 401
    metadata = api.get("/fhir/metadata").json()
    validate(metadata)
    assert "Slot" in {x["type"] for x in metadata["rest"][0]["resource"]}
