"""Editing a registered patient, a coverage and an episode of care: the same checks as
creating them, all or nothing, and every changed field kept in history."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.models import AuditLog, Coverage, Patient, RecordChange
from clinic_app.services.frontdesk import cases, changes, merge, patients
from clinic_app.services.frontdesk.patients import RegistrationInvalid
from clinic_app.services.platform.errors import InvalidInput, NotAllowed
from clinic_app.services.revenue import payers
from tests.conftest import DAY, at
from tests.services.revenue_helpers import cover, set_up_billing
from tests.services.test_patients import _form

NOW = at("08:00")


def _registered(session, clinic):
    patient = patients.register_patient(session, actor=clinic.reception, form=_form(), now=NOW)
    session.commit()  # the test is the caller
    return patient


def test_editing_a_patient_saves_the_changes_and_keeps_each_in_history(session, clinic):
    patient = _registered(session, clinic)
    form = patients.as_registration(session, patient_id=patient.id)
    assert (form.first_name, form.birth_date, form.consents["sms"]) == ("Lena", "1975-06-30", "2030-03-12")
    form = dataclasses.replace(form, last_name="Byrne", phone="(212) 555-0177", city="Albany",
                               consents={**form.consents, "sms": "", "financial": "2030-03-12"},
                               preferred_channel="phone")
    changed = patients.update_patient(session, actor=clinic.reception, patient_id=patient.id, form=form, now=NOW)
    assert set(changed) == {"last_name", "phone", "city", "preferred_channel", "consent_sms", "consent_financial"}
    session.refresh(patient)
    assert (patient.last_name, patient.search_last, patient.phone_digits, patient.mrn) == (
        "Byrne", "byrne", "2125550177", f"P{patient.id:07d}")
    assert set(patients.consents_of(session, patient_id=patient.id)) == {"treatment", "privacy_notice", "financial"}
    rows = {r.field: (r.old_value, r.new_value) for r in changes.history(session, entity="patient", entity_id=patient.id)}
    assert rows["last_name"] == ("O'Brien", "Byrne")
    assert rows["consent_sms"] == ("2030-03-12", "")  # a withdrawn consent keeps the date it had
    assert rows["preferred_channel"] == ("sms", "phone")
    assert [p.id for p in patients.search(session, actor=clinic.reception, text="byrne")] == [patient.id]
    audit = session.exec(select(AuditLog).where(AuditLog.action == "update", AuditLog.entity == "patient")).one()
    assert "last_name" in audit.detail


def test_a_bad_edit_is_refused_whole_and_changes_nothing(session, clinic):
    patient = _registered(session, clinic)
    form = dataclasses.replace(patients.as_registration(session, patient_id=patient.id),
                               last_name="Byrne", email="not-an-email", birth_date="")
    with pytest.raises(RegistrationInvalid) as info:
        patients.update_patient(session, actor=clinic.reception, patient_id=patient.id, form=form, now=NOW)
    assert set(info.value.problems) == {"email", "birth_date"}
    session.rollback()
    session.refresh(patient)
    assert patient.last_name == "O'Brien"
    assert session.exec(select(RecordChange)).all() == []
    same = patients.as_registration(session, patient_id=patient.id)
    with pytest.raises(InvalidInput, match="Nothing changed"):
        patients.update_patient(session, actor=clinic.reception, patient_id=patient.id, form=same, now=NOW)
    with pytest.raises(NotAllowed):
        patients.update_patient(session, actor=clinic.clinician, patient_id=patient.id, form=same, now=NOW)


def test_a_merged_record_is_not_edited(session, clinic):
    keep, gone = clinic.patients[0], clinic.patients[1]
    merge.merge_patients(session, actor=clinic.reception, survivor_id=keep.id, duplicate_id=gone.id)
    form = dataclasses.replace(patients.as_registration(session, patient_id=gone.id), city="Troy")
    with pytest.raises(InvalidInput, match="edit the record that is kept"):
        patients.update_patient(session, actor=clinic.reception, patient_id=gone.id, form=form, now=NOW)


def test_editing_a_coverage_checks_it_like_a_new_one_and_keeps_history(session, clinic):
    payer = set_up_billing(session, clinic)
    primary = cover(session, clinic, payer, start=DAY - dt.timedelta(days=30), end=DAY + dt.timedelta(days=59))
    later = cover(session, clinic, payer, start=DAY + dt.timedelta(days=60), end=DAY + dt.timedelta(days=90))
    primary.eligibility_status, primary.eligibility_checked_at = "active", NOW
    session.add(primary)
    session.commit()
    changed = payers.update_coverage(session, actor=clinic.reception, coverage_id=primary.id, copay="25",
                                     effective_to=DAY + dt.timedelta(days=50), group_number="G88", now=NOW)
    assert set(changed) == {"copay_cents", "effective_to", "group_number"}
    session.refresh(primary)
    assert (primary.copay_cents, primary.group_number, primary.eligibility_status) == (2500, "G88", "active")
    session.commit()  # the test is the caller: what was saved so far stays
    # Overlapping the later primary coverage is refused, naming it; nothing changes.
    with pytest.raises(InvalidInput, match="already has primary coverage from 2030-05-11"):
        payers.update_coverage(session, actor=clinic.reception, coverage_id=primary.id, effective_to=None, now=NOW)
    with pytest.raises(InvalidInput, match="subscriber's name and birth date"):
        payers.update_coverage(session, actor=clinic.reception, coverage_id=primary.id, relationship="child", now=NOW)
    with pytest.raises(InvalidInput, match="member id"):
        payers.update_coverage(session, actor=clinic.reception, coverage_id=primary.id, member_id="!", now=NOW)
    session.rollback()
    session.refresh(primary)
    assert primary.effective_to == DAY + dt.timedelta(days=50) and primary.relationship == "self"
    # A new member id makes the last eligibility answer stale: it is cleared.
    payers.update_coverage(session, actor=clinic.reception, coverage_id=primary.id, member_id="NEW12345", now=NOW)
    session.refresh(primary)
    assert primary.eligibility_status == "" and primary.eligibility_checked_at is None
    history = [(r.field, r.old_value, r.new_value) for r in changes.history(session, entity="coverage", entity_id=primary.id)]
    assert ("member_id", "M010001", "NEW12345") in history and ("copay_cents", "", "2500") in history
    assert session.get(Coverage, later.id).effective_to == DAY + dt.timedelta(days=90)
    with pytest.raises(NotAllowed):
        payers.update_coverage(session, actor=clinic.clinician, coverage_id=primary.id, copay="10", now=NOW)


def test_editing_an_episode_checks_it_and_keeps_history(session, clinic):
    case = cases.open_case(session, actor=clinic.reception, patient_id=clinic.patients[0].id, title="Left knee",
                           authorized_visits=12, auth_end=DAY + dt.timedelta(days=30))
    changed = cases.update_case(session, actor=clinic.reception, case_id=case.id, authorized_visits=20,
                                diagnosis_code="m25.561", referral_source="Dr Ortho", now=NOW)
    session.commit()  # the test is the caller
    assert set(changed) == {"authorized_visits", "diagnosis_code", "referral_source"}
    session.refresh(case)
    assert (case.authorized_visits, case.diagnosis_code) == (20, "M25.561")
    with pytest.raises(InvalidInput, match="end on or after"):
        cases.update_case(session, actor=clinic.reception, case_id=case.id, auth_start=DAY + dt.timedelta(days=40))
    with pytest.raises(InvalidInput, match="title"):
        cases.update_case(session, actor=clinic.reception, case_id=case.id, title="  ")
    session.rollback()
    session.refresh(case)
    assert case.auth_start is None and case.title == "Left knee"
    cases.update_case(session, actor=clinic.reception, case_id=case.id, active=False, now=NOW)
    history = [(r.field, r.old_value, r.new_value) for r in changes.history(session, entity="care_case", entity_id=case.id)]
    assert history[0] == ("active", "yes", "no") and ("authorized_visits", "12", "20") in history
    assert cases.cases_of(session, patient_id=clinic.patients[0].id) == []  # closed episodes are not offered
    with pytest.raises(NotAllowed):
        cases.update_case(session, actor=clinic.biller, case_id=case.id, title="X")
    assert session.get(Patient, clinic.patients[0].id).active
