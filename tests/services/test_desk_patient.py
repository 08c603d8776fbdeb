"""The desk's patient work behind its screens (issue 14): registration that takes the
insurance with the set-up page's rules, the profile's read in names, and the waitlist as a
list with preferences, time waited and freed slots. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import func, select

from clinic_app.models import AuditLog, Coverage, Patient, WaitlistEntry
from clinic_app.services.frontdesk import profile, scheduling, waitlist
from clinic_app.services.frontdesk.patients import Registration, RegistrationInvalid, register_patient
from clinic_app.services.platform.errors import InvalidInput, NotAllowed
from clinic_app.services.revenue import payers
from clinic_app.services.revenue.payers import CoverageForm
from tests.conftest import DAY, at
from tests.services.helpers import book, now_at
from tests.services.revenue_helpers import set_up_billing, signed_visit

NOW = at("08:00")


def _form(*coverages: CoverageForm, **overrides) -> Registration:
    values = {"first_name": "Lena", "last_name": "Obi", "birth_date": "1975-06-30", "phone": "(212) 555-0142"}
    values.update(overrides)
    return Registration(**values, coverages=list(coverages))


def _cover(payer, **overrides) -> CoverageForm:
    values = {"payer_id": str(payer.id), "member_id": "AC123456", "effective_from": "2030-01-01"}
    values.update(overrides)
    return CoverageForm(**values)


def test_registration_records_the_primary_and_secondary_insurance(session, clinic):
    acme = set_up_billing(session, clinic)
    second = payers.create_payer(session, actor=clinic.biller, name="Second Mutual", payer_id="SECM1")
    patient = register_patient(
        session, actor=clinic.reception, now=NOW,
        form=_form(_cover(acme, copay="25"), _cover(second, member_id="SM-77", relationship="spouse",
                   subscriber_first_name="Ola", subscriber_last_name="Obi", subscriber_birth_date="1970-02-02")),
    )
    rows = session.exec(select(Coverage).where(Coverage.patient_id == patient.id).order_by(Coverage.priority)).all()
    assert [(c.payer_id, c.priority, c.member_id, c.copay_cents) for c in rows] == [(acme.id, 1, "AC123456", 2500), (second.id, 2, "SM-77", None)]
    assert rows[1].relationship == "spouse" and rows[1].subscriber_birth_date == dt.date(1970, 2, 2)
    audited = session.exec(select(AuditLog.entity).where(AuditLog.patient_id == patient.id)).all()
    assert audited.count("coverage") == 2 and "patient" in audited


def test_registration_with_wrong_insurance_lists_every_problem_and_saves_nothing(session, clinic):
    acme = set_up_billing(session, clinic)
    before = session.exec(select(func.count()).select_from(Patient)).one()
    with pytest.raises(RegistrationInvalid) as refused:
        register_patient(session, actor=clinic.reception, now=NOW, form=_form(
            _cover(acme, member_id="x"),
            _cover(acme, member_id="SM77", relationship="child"),  # a dependant without the subscriber named
            phone="12",
        ))
    assert refused.value.problems == {
        "phone": "Phone must have 7 to 15 digits, e.g. (212) 555-0142.",
        "coverage_1": "Primary insurance: The member id is the letters and digits on the insurance card (2 to 40).",
        "coverage_2": "Secondary insurance: When the patient is not the subscriber, give the subscriber's name and birth date.",
    }
    with pytest.raises(RegistrationInvalid) as refused:
        register_patient(session, actor=clinic.reception, now=NOW, form=_form(_cover(acme, effective_from="02/30/2030")))
    assert refused.value.problems == {  # in the format the date field shows
        "coverage_1": "Primary insurance: Enter the date the coverage starts as month/day/year, e.g. 03/01/2030."}
    assert session.exec(select(func.count()).select_from(Patient)).one() == before
    assert session.exec(select(Coverage)).all() == []


def test_the_profile_reads_in_names_and_opening_it_is_audited(session, clinic):
    acme = set_up_billing(session, clinic)
    payers.add_coverage(session, actor=clinic.reception, patient_id=clinic.patients[0].id, payer_id=acme.id,
                        member_id="M1", effective_from=DAY - dt.timedelta(days=3), copay="20")
    signed_visit(session, clinic, "09:00")
    later = book(session, clinic, "15:00", provider=1, room=0)
    patient_id = clinic.patients[0].id

    patient = profile.open_profile(session, actor=clinic.reception, patient_id=patient_id)
    assert session.exec(select(AuditLog).where(AuditLog.entity == "patient_profile")).one().patient_id == patient.id
    upcoming, past = profile.visits(session, actor=clinic.reception, patient_id=patient_id, now=at("12:00"))
    assert [(v.id, v.when, v.provider, v.where, v.status) for v in upcoming] == [
        (later.id, "Tue 2030-03-12 15:00", "Bo Baker, PT", "Test Clinic, Room 1", "Booked")]
    assert [(v.when, v.provider, v.kind, v.status) for v in past] == [("Tue 2030-03-12 09:00", "Ann Able, PT", "Treatment", "Ready to bill")]
    [line] = profile.coverages(session, actor=clinic.reception, patient_id=patient_id, today=DAY, tz="America/New_York")
    assert (line.label, line.copay, line.in_effect, line.eligibility) == (
        "Primary: Acme Health, member M1", "$20.00", True, "Eligibility not checked")
    assert dict(profile.demographics(patient))["Responsible for the bill"] == "the patient"
    with pytest.raises(NotAllowed):
        profile.open_profile(session, actor=clinic.biller, patient_id=patient_id)


def _wait(session, clinic, patient, **kw):
    values = {"location_id": clinic.location.id, "appointment_type_id": clinic.treatment.id,
              "earliest_day": DAY - dt.timedelta(days=1), "latest_day": DAY + dt.timedelta(days=7), "now": now_at("07:00") - dt.timedelta(days=3)}
    values.update(kw)
    return waitlist.add_to_waitlist(session, actor=clinic.reception, patient_id=patient.id, **values)


def test_the_waitlist_lists_preferences_and_time_waited(session, clinic):
    _wait(session, clinic, clinic.patients[1], provider_id=clinic.providers[0].id, preferred_from="08:00", preferred_until="12:00",
          note="mornings")
    _wait(session, clinic, clinic.patients[2], now=now_at("07:00"))
    rows = waitlist.waiting(session, actor=clinic.reception, location_id=clinic.location.id, now=now_at("08:00"))
    assert [(r["patient_name"], r["days"], r["times"], r["provider"], r["waited"], r["note"]) for r in rows] == [
        ("Fox, Eli", "2030-03-11 to 2030-03-19", "08:00-12:00", "Ann Able, PT", "3 days", "mornings"),
        ("Hall, Gus", "2030-03-11 to 2030-03-19", "any time", "any provider", "under a day", ""),
    ]
    with pytest.raises(NotAllowed):
        waitlist.waiting(session, actor=clinic.biller, location_id=clinic.location.id)


def test_freed_slots_that_fit_an_entry_are_offered_and_booked(session, clinic):
    entry = _wait(session, clinic, clinic.patients[1], provider_id=clinic.providers[0].id, preferred_from="08:00",
                  preferred_until="12:00")
    freed = book(session, clinic, "10:00", provider=0, patient=0)
    scheduling.transition(session, actor=clinic.reception, appointment_id=freed.id, to_status="cancelled", now=now_at("07:00"))
    elsewhere = book(session, clinic, "11:00", provider=1, patient=0)  # another provider than the one asked for
    scheduling.transition(session, actor=clinic.reception, appointment_id=elsewhere.id, to_status="cancelled", now=now_at("07:00"))
    retaken = book(session, clinic, "09:00", provider=0, patient=0)  # freed, then booked again by someone else
    scheduling.transition(session, actor=clinic.reception, appointment_id=retaken.id, to_status="cancelled", now=now_at("07:00"))
    book(session, clinic, "09:00", provider=0, patient=2)

    slots = waitlist.freed_slots_for(session, actor=clinic.reception, entry_id=entry.id, now=now_at("07:30"))
    assert [(s["appointment_id"], s["when"], s["provider"]) for s in slots] == [(freed.id, "Tue 2030-03-12 10:00", "Ann Able, PT")]
    assert "asked for this provider; inside their preferred hours" in slots[0]["why"]
    booked = waitlist.book_offer(session, actor=clinic.reception, entry_id=entry.id, freed_appointment_id=freed.id,
                                 now=now_at("07:30"))
    assert booked.patient_id == clinic.patients[1].id
    assert session.get(WaitlistEntry, entry.id).status == "booked"
    with pytest.raises(InvalidInput, match="no longer on the waitlist"):
        waitlist.freed_slots_for(session, actor=clinic.reception, entry_id=entry.id)


def test_an_entry_taken_off_the_waitlist_is_kept_as_removed(session, clinic):
    entry = _wait(session, clinic, clinic.patients[1])
    waitlist.remove_entry(session, actor=clinic.reception, entry_id=entry.id)
    assert session.get(WaitlistEntry, entry.id).status == "removed"
    assert waitlist.waiting(session, actor=clinic.reception, location_id=clinic.location.id) == []
    assert [r["status"] for r in waitlist.entries_of(session, actor=clinic.reception, patient_id=clinic.patients[1].id)] == ["Removed"]
    with pytest.raises(InvalidInput):
        waitlist.remove_entry(session, actor=clinic.reception, entry_id=entry.id)
