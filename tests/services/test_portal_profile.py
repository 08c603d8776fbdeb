"""The portal's Profile on both databases: a patient asks to change their contact details
(checked with registration's rules), the desk accepts (the record changes, each field kept in
history) or declines with a reason; a newer request replaces a waiting one; another patient's
ids get nothing; the services never commit."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from clinic_app.models import AuditLog, Patient, ProfileChange, RecordChange, Task
from clinic_app.services.frontdesk import changes
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound
from clinic_app.services.portal import accounts, profile
from clinic_app.services.portal.accounts import Me
from clinic_app.services.tasks import rules
from tests.conftest import DAY, at

EVE = at("07:00", DAY - dt.timedelta(days=1))
NOW = at("10:00")


def _account(session, clinic, patient=0) -> Me:
    p = clinic.patients[patient]
    p.phone = "212 555 0199"  # the record's preferred channel is a phone call
    session.add(p)
    invitation = accounts.invite(session, actor=clinic.reception, patient_id=p.id,
                                 email=f"{p.first_name.lower()}@example.com", now=EVE)
    account = accounts.accept_invitation(session, token=invitation.token, password="Sunny-day-2030", now=EVE)
    session.commit()
    return Me(account_id=account.id, patient_id=p.id)


def _form(session, me, **changed) -> dict:
    return {**profile.current(session, me), **changed}


def test_a_request_waits_for_the_desk_and_acceptance_changes_the_record_with_history(session, clinic):
    cara = _account(session, clinic)
    profile.request_change(session, cara, values=_form(session, cara, phone="(212) 555-0142", city="Albany",
                                                       emergency_name="Dee Diaz", emergency_phone="212 555 0100"),
                           now=NOW)
    session.commit()
    patient_id = clinic.patients[0].id
    session.expire_all()
    assert session.get(Patient, patient_id).phone == "212 555 0199"  # nothing changes until the desk accepts
    seen = profile.waiting(session, actor=clinic.reception, patient_id=patient_id)
    assert [(line.label, line.before, line.after) for line in seen.lines] == [
        ("Phone", "212 555 0199", "(212) 555-0142"), ("City", "(none)", "Albany"),
        ("Emergency contact", "(none)", "Dee Diaz"), ("Emergency contact phone", "(none)", "212 555 0100")]
    assert profile.my_waiting(session, cara).lines[0].after == "(212) 555-0142"
    assert profile.my_waiting(session, cara).asked["city"] == "Albany"
    changed = profile.accept(session, actor=clinic.reception, request_id=seen.id, now=NOW)
    session.commit()
    session.expire_all()
    patient = session.get(Patient, patient_id)
    assert (patient.phone, patient.city, patient.emergency_name, patient.phone_digits) == (
        "(212) 555-0142", "Albany", "Dee Diaz", "2125550142")
    assert changed == ["phone", "city", "emergency_name", "emergency_phone"]
    history = changes.history(session, entity="patient", entity_id=patient_id)
    assert {(h.field, h.old_value, h.new_value, h.changed_by) for h in history} >= {
        ("phone", "212 555 0199", "(212) 555-0142", clinic.reception.user_id), ("city", "", "Albany", clinic.reception.user_id)}
    assert profile.waiting(session, actor=clinic.reception, patient_id=patient_id) is None
    assert profile.my_last_decision(session, cara) == "The clinic accepted your last change."


def test_registrations_rules_apply_and_nothing_is_kept_from_a_bad_request(session, clinic):
    cara = _account(session, clinic)
    for changed, message in (
        ({"phone": "12"}, "Phone must have 7 to 15 digits"),
        ({"email": "not-an-address"}, "Email must look like"),
        ({"preferred_channel": "email", "email": ""}, "Email is preferred: enter an email address"),
        ({"preferred_channel": "sms", "phone": "212 555 0142"}, "need your written consent"),
        ({"emergency_name": "Dee"}, "emergency contact's phone"),
        ({}, "Nothing changed"),
    ):
        with pytest.raises(InvalidInput, match=message):
            profile.request_change(session, cara, values=_form(session, cara, **changed), now=NOW)
        session.rollback()
    with pytest.raises(InvalidInput, match="Only your contact details"):
        profile.request_change(session, cara, values={"last_name": "Smith"}, now=NOW)
    session.rollback()
    assert session.exec(select(ProfileChange)).all() == []


def test_a_newer_request_replaces_the_waiting_one_and_the_desk_may_decline(session, clinic):
    cara = _account(session, clinic)
    first = profile.request_change(session, cara, values=_form(session, cara, city="Albany"), now=NOW)
    session.commit()
    second = profile.request_change(session, cara, values=_form(session, cara, city="Troy", reminders_opt_out=True),
                                    now=NOW)
    session.commit()
    with pytest.raises(NotFound, match="no longer waiting"):
        profile.accept(session, actor=clinic.reception, request_id=first.id, now=NOW)
    session.rollback()
    seen = profile.waiting(session, actor=clinic.reception, patient_id=clinic.patients[0].id)
    assert (seen.id, [(line.label, line.after) for line in seen.lines]) == (
        second.id, [("City", "Troy"), ("No reminders", "yes")])
    with pytest.raises(NotAllowed):
        profile.decline(session, actor=clinic.clinician, request_id=second.id)
    session.rollback()
    profile.decline(session, actor=clinic.reception, request_id=second.id, reason="Please call us to confirm.", now=NOW)
    session.commit()
    session.expire_all()
    assert session.get(Patient, clinic.patients[0].id).city == ""
    assert profile.my_last_decision(session, cara) == "The clinic declined your last change: Please call us to confirm."
    assert profile.my_waiting(session, cara) is None
    assert session.exec(select(RecordChange)).all() == []


def test_another_patients_ids_get_nothing(session, clinic):
    cara, eli = _account(session, clinic, 0), _account(session, clinic, 1)
    profile.request_change(session, cara, values=_form(session, cara, city="Albany"), now=NOW)
    session.commit()
    assert profile.my_waiting(session, eli) is None
    assert profile.my_last_decision(session, eli) == ""
    assert profile.current(session, eli)["phone"] == "212 555 0199" and profile.current(session, eli)["city"] == ""
    forged = Me(account_id=eli.account_id, patient_id=clinic.patients[2].id + 1000)
    with pytest.raises(NotFound):
        profile.current(session, forged)
    with pytest.raises(NotFound):
        profile.request_change(session, forged, values={"city": "X"}, now=NOW)
    session.rollback()


def test_the_services_leave_the_transaction_to_the_caller(session, clinic):
    cara = _account(session, clinic)
    profile.request_change(session, cara, values=_form(session, cara, city="Albany"), now=NOW)
    session.rollback()
    assert session.exec(select(ProfileChange)).all() == []
    row = profile.request_change(session, cara, values=_form(session, cara, city="Albany"), now=NOW)
    session.commit()
    profile.accept(session, actor=clinic.reception, request_id=row.id, now=NOW)
    session.rollback()
    session.expire_all()
    assert session.get(Patient, clinic.patients[0].id).city == ""
    assert json.loads(session.get(ProfileChange, row.id).changes) == {"city": "Albany"}
    assert session.get(ProfileChange, row.id).status == "waiting"


def _open_tasks(session):
    return session.exec(select(Task).where(Task.kind == "profile_change", Task.open_key.is_not(None))).all()


def test_the_desk_gets_a_task_that_closes_itself_when_the_change_is_answered(session, clinic):
    cara = _account(session, clinic)
    first = profile.request_change(session, cara, values=_form(session, cara, city="Albany"), now=NOW)
    session.commit()
    [task] = _open_tasks(session)
    assert (task.queue_role, task.patient_id, task.due_on) == ("reception", clinic.patients[0].id, DAY)
    assert "contact details change" in task.title
    rules.sweep(session, now=NOW, kinds=("profile_change",))
    rules.evaluate(session, "profile_change", clinic.patients[0].id, now=NOW)
    session.commit()
    assert [t.id for t in _open_tasks(session)] == [task.id]  # not twice
    # A newer request: one task still, about it.
    second = profile.request_change(session, cara, values=_form(session, cara, city="Troy"), now=NOW)
    session.commit()
    [again] = _open_tasks(session)
    assert again.open_key.endswith(f":{second.id}") and first.id != second.id
    profile.decline(session, actor=clinic.reception, request_id=second.id, now=NOW)
    session.commit()
    assert _open_tasks(session) == []
    # Accepting closes it too.
    third = profile.request_change(session, cara, values=_form(session, cara, city="Utica"), now=NOW)
    session.commit()
    assert len(_open_tasks(session)) == 1
    profile.accept(session, actor=clinic.reception, request_id=third.id, now=NOW)
    session.commit()
    assert _open_tasks(session) == []
    rules.sweep(session, now=NOW, kinds=("profile_change",))
    session.commit()
    assert _open_tasks(session) == []


def test_where_the_clinic_allows_it_the_change_is_made_at_once_with_history_and_no_task(session, clinic, monkeypatch):
    monkeypatch.setenv("CLINIC_PORTAL_PROFILE_DIRECT", "on")
    cara = _account(session, clinic)
    row = profile.request_change(session, cara, values=_form(session, cara, phone="(212) 555-0142", city="Albany"),
                                 now=NOW)
    session.commit()
    session.expire_all()
    patient = session.get(Patient, clinic.patients[0].id)
    assert (patient.phone, patient.city, patient.phone_digits) == ("(212) 555-0142", "Albany", "2125550142")
    assert row.status == "accepted" and row.decided_by_user_id is None
    history = changes.history(session, entity="patient", entity_id=patient.id)
    assert {(h.field, h.old_value, h.new_value) for h in history} == {("phone", "212 555 0199", "(212) 555-0142"),
                                                                       ("city", "", "Albany")}
    assert profile.waiting(session, actor=clinic.reception, patient_id=patient.id) is None and _open_tasks(session) == []
    assert session.exec(select(AuditLog).where(AuditLog.entity == "patient", AuditLog.action == "update",
                                               AuditLog.detail.contains("the patient's own change"))).one()
    # The same rules as the desk's: a bad value changes nothing.
    with pytest.raises(InvalidInput):
        profile.request_change(session, cara, values=_form(session, cara, email="not an address"), now=NOW)
    session.rollback()
    assert session.get(Patient, patient.id).email == ""
