"""Registration (all or nothing, clear messages, duplicate warning) and type-ahead search."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.models import AuditLog, Patient, PatientConsent
from clinic_app.services.frontdesk import patients
from clinic_app.services.frontdesk.patients import Registration, RegistrationInvalid
from clinic_app.services.platform.errors import NotAllowed, PossibleDuplicate
from tests.conftest import at

NOW = at("08:00")


def _form(**overrides) -> Registration:
    values = {
        "first_name": "Lena", "last_name": "O'Brien", "birth_date": "1975-06-30", "phone": "(212) 555-0142",
        "email": "lena@example.com", "preferred_channel": "sms", "emergency_name": "Tom O'Brien",
        "emergency_relationship": "Husband", "emergency_phone": "212-555-0199",
        "consents": {"treatment": "2030-03-12", "privacy_notice": "2030-03-12", "sms": "2030-03-12"},
    }
    values.update(overrides)
    return Registration(**values)


def test_registration_saves_the_patient_and_consents_with_dates(session, clinic):
    patient = patients.register_patient(session, actor=clinic.reception, form=_form(), now=NOW)
    assert patient.mrn == f"P{patient.id:07d}"
    assert (patient.preferred_channel, patient.emergency_phone, patient.guarantor_relationship) == ("sms", "212-555-0199", "self")
    assert patients.consents_of(session, patient_id=patient.id) == {
        "treatment": dt.date(2030, 3, 12), "privacy_notice": dt.date(2030, 3, 12), "sms": dt.date(2030, 3, 12),
    }
    assert session.exec(select(AuditLog).where(AuditLog.entity == "patient")).first().patient_id == patient.id


def test_every_problem_is_named_and_nothing_is_saved(session, clinic):
    form = _form(
        first_name="", birth_date="2031-01-01", phone="12", email="not-an-email",
        emergency_phone="", guarantor_relationship="parent", guarantor_name="",
        consents={"treatment": "yesterday", "sms": ""},
    )
    with pytest.raises(RegistrationInvalid) as info:
        patients.register_patient(session, actor=clinic.reception, form=form, now=NOW)
    problems = info.value.problems
    assert problems["first_name"] == "First name is required."
    assert problems["birth_date"] == "Date of birth cannot be in the future."
    assert "7 to 15 digits" in problems["phone"]
    assert "name@example.com" in problems["email"]
    assert problems["emergency_phone"] == "Enter the emergency contact's phone number."
    assert "guarantor's name" in problems["guarantor_name"]
    assert "enter the date it was given" in problems["consent_treatment"]
    assert "consent date" in problems["consent_sms"]
    assert str(info.value).startswith("Please correct: First name is required.")
    assert len(session.exec(select(Patient)).all()) == 3  # the fixture's, no more
    assert session.exec(select(PatientConsent)).all() == []


def test_preferred_channel_needs_the_matching_contact(session, clinic):
    with pytest.raises(RegistrationInvalid, match="Email is preferred: enter an email address"):
        patients.register_patient(session, actor=clinic.reception, form=_form(preferred_channel="email", email=""), now=NOW)


def test_a_likely_duplicate_is_named_and_can_be_registered_anyway(session, clinic):
    # The fixture's Cara Diaz, born 1980-01-01, comes back as "Carla Diaz".
    form = _form(first_name="Carla", last_name="Diaz", birth_date="01/01/1980")
    with pytest.raises(PossibleDuplicate, match=r"Diaz, Cara \(T0, born 1980-01-01\)") as info:
        patients.register_patient(session, actor=clinic.reception, form=form, now=NOW)
    assert info.value.matches == [clinic.patients[0].id]
    assert len(session.exec(select(Patient)).all()) == 3
    twin = patients.register_patient(session, actor=clinic.reception, form=form, confirm_not_duplicate=True, now=NOW)
    assert twin.birth_date == dt.date(1980, 1, 1)


def test_an_mrn_in_use_is_refused(session, clinic):
    with pytest.raises(RegistrationInvalid, match="MRN T1 belongs to another patient"):
        patients.register_patient(session, actor=clinic.reception, form=_form(mrn="t1"), now=NOW)


def test_only_reception_registers(session, clinic):
    for actor in (clinic.clinician, clinic.biller, clinic.manager, clinic.admin):
        with pytest.raises(NotAllowed):
            patients.register_patient(session, actor=actor, form=_form(), now=NOW)


def test_the_database_refuses_a_guarantor_without_a_name(engine, clinic):
    bad = Patient(mrn="RAW1", first_name="A", last_name="B", birth_date=dt.date(1990, 1, 1),
                  guarantor_relationship="parent", guarantor_name="")
    with Session(engine) as raw, pytest.raises(IntegrityError):
        raw.add(bad)
        raw.commit()


def test_the_database_refuses_an_unknown_channel(engine, clinic):
    bad = Patient(mrn="RAW2", first_name="A", last_name="B", birth_date=dt.date(1990, 1, 1), preferred_channel="fax")
    with Session(engine) as raw, pytest.raises(IntegrityError):
        raw.add(bad)
        raw.commit()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("di", ["Diaz, Cara"]),  # last-name prefix
        ("ELI", ["Fox, Eli"]),  # first-name prefix, any case
        ("fox, el", ["Fox, Eli"]),  # last, first
        ("gus hall", ["Hall, Gus"]),  # first last
        ("1980-01-02", ["Fox, Eli"]),  # date of birth
        ("01/03/1980", ["Hall, Gus"]),
        ("t2", ["Hall, Gus"]),  # MRN
        ("obrien", ["O'Brien, Lena"]),  # punctuation ignored
        ("212 555", ["O'Brien, Lena"]),  # phone digits as typed
        ("(212) 555-01", ["O'Brien, Lena"]),
        ("zz", []),
    ],
)
def test_search_by_name_birth_date_phone_or_mrn(session, clinic, text, expected):
    patients.register_patient(session, actor=clinic.reception, form=_form(), now=NOW)
    hits = patients.search(session, actor=clinic.reception, text=text)
    assert [f"{p.last_name}, {p.first_name}" for p in hits] == expected


def test_search_keys_follow_a_name_change(session, clinic):
    cara = clinic.patients[0]
    cara.last_name = "Zimmer"
    session.add(cara)
    session.commit()
    assert [p.id for p in patients.search(session, actor=clinic.reception, text="zimm")] == [cara.id]
    assert patients.search(session, actor=clinic.reception, text="diaz") == []


def test_search_needs_the_permission(session, clinic):
    with pytest.raises(NotAllowed):
        patients.search(session, actor=clinic.biller, text="diaz")
