"""Merging a duplicate patient record: every row moves, none is lost or copied."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from clinic_app.models import (
    AppointmentSeries,
    Attachment,
    AuditLog,
    CareCase,
    CarePlan,
    HomeExercise,
    HomeMeasure,
    IntakeConsent,
    IntakeForm,
    IntakeResponse,
    LedgerEntry,
    MessageThread,
    Note,
    OnlinePayment,
    Patient,
    PatientAccount,
    PatientAllergy,
    PatientConsent,
    PatientMedication,
    PatientMerge,
    PatientProblem,
    PlanGoal,
    PortalDependant,
    PortalRegistration,
    PortalToken,
    ProfileChange,
    RecordChange,
    ReleasedDocument,
    Task,
    WaitlistEntry,
)
from clinic_app.services.charting import charting, measures
from clinic_app.services.frontdesk import merge
from clinic_app.services.platform.errors import InvalidInput, NotAllowed
from clinic_app.services.revenue import claims, ledger
from tests.conftest import DAY, at
from tests.services.helpers import book, charted_note
from tests.services.revenue_helpers import cover, set_up_billing


def _attachment(session, clinic, patient, data=b"%PDF-1.4 referral"):
    row = Attachment(
        patient_id=patient.id, filename="referral.pdf", content_type="application/pdf", size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(), data=data, uploaded_by_user_id=clinic.admin.user_id,
    )
    session.add(row)
    return row


def _fill(session, clinic):
    """A duplicate (patient 0) with a row in every table that references a patient, and a
    survivor (patient 1) that already has the same consent kind and the same file."""
    dup, keep = clinic.patients[0], clinic.patients[1]
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer, patient=0)
    appt, note = charted_note(session, clinic, "09:00")
    measures.record(session, actor=clinic.clinician, note_id=note.id, code="NPRS", values=[6])
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id, now=at("09:40"))
    claims.create_claim(session, actor=clinic.biller, appointment_id=appt.id)
    ledger.take_payment(session, actor=clinic.reception, patient_id=dup.id, amount="20.00", method="cash")
    book(session, clinic, "11:00", patient=1)  # the survivor's own visit, not overlapping
    user = clinic.admin.user_id
    session.add_all([
        AppointmentSeries(patient_id=dup.id, description="Treatment, Tue for 2 weeks", created_by=user),
        CareCase(patient_id=dup.id, title="Left knee", authorized_visits=12),
        WaitlistEntry(patient_id=dup.id, location_id=clinic.location.id, appointment_type_id=clinic.treatment.id,
                      earliest_day=DAY, latest_day=DAY + dt.timedelta(days=14)),
        PatientProblem(patient_id=dup.id, code="M25561", recorded_by_user_id=user),
        PatientAllergy(patient_id=dup.id, substance="Latex", recorded_by_user_id=user),
        PatientMedication(patient_id=dup.id, name="Ibuprofen", recorded_by_user_id=user),
        PlanGoal(patient_id=dup.id, term="short", text="Climb stairs", target_date=DAY + dt.timedelta(days=30),
                 recorded_by_user_id=user),
        HomeExercise(patient_id=dup.id, name="Quad sets", recorded_by_user_id=user),
        CarePlan(patient_id=dup.id, visits_per_week=2, duration_weeks=6, starts_on=DAY, recorded_by_user_id=user),
        PatientConsent(patient_id=dup.id, kind="treatment", given_on=dt.date(2029, 1, 5)),
        PatientConsent(patient_id=dup.id, kind="privacy_notice", given_on=dt.date(2029, 1, 5)),
        PatientConsent(patient_id=keep.id, kind="treatment", given_on=dt.date(2028, 6, 1)),
        RecordChange(entity="patient", entity_id=dup.id, patient_id=dup.id, field="city", new_value="Albany"),
        MessageThread(kind="patient", patient_id=dup.id, subject="Parking", to_queue="desk"),
    ])
    # The patient's side: a completed intake with its signed consent (final rows, like a signed
    # note, that only a merge may move), an online payment, a task about the patient.
    form = IntakeForm(code="NEWPT", version=1, title="New patient", visit_kinds="[]", fields="[]", questionnaire="{}",
                      created_by_user_id=user)
    session.add(form)
    session.flush()
    response = IntakeResponse(appointment_id=appt.id, patient_id=dup.id, form_id=form.id, form_code="NEWPT",
                              status="completed", response="{}", completed_at=at("08:30"))
    session.add(response)
    session.flush()
    session.add_all([
        IntakeConsent(response_id=response.id, patient_id=dup.id, link_id="consent", title="Consent", text="I agree.",
                      signature_png=b"png", signed_at=at("08:30"), pdf=b"%PDF-1.4 consent", sha256="0" * 64),
        OnlinePayment(patient_id=dup.id, gateway="local", gateway_payment_id="pay_1", idempotency_key="k1",
                      amount_cents=1000, status="pending"),
        Task(kind="manual", patient_id=dup.id, title="Call about the brace", queue_role="reception", due_on=DAY),
        PatientAccount(patient_id=dup.id, email="cara@example.com"),
        PortalToken(token_hash="1" * 64, kind="invite", patient_id=dup.id, expires_at=at("23:00")),
        PortalRegistration(first_name="Cara", last_name="Diaz", birth_date=dup.birth_date, email="cara@example.com",
                           location_id=clinic.location.id, token_hash="2" * 64, status="accepted", patient_id=dup.id,
                           expires_at=at("23:00")),
        ReleasedDocument(patient_id=dup.id, note_id=note.id, title="Visit summary", released_by_user_id=clinic.clinician.user_id,
                         released_at=at("10:00")),
    ])
    session.flush()
    account = session.scalars(select(PatientAccount).where(PatientAccount.patient_id == dup.id)).one()
    session.add_all([HomeMeasure(patient_id=dup.id, measure_code="NPRS", assigned_by_user_id=user),
                     ProfileChange(patient_id=dup.id, account_id=account.id, changes='{"city": "Albany"}')])
    # A parent's portal access to the duplicate (Gus's account: patient 2).
    parent = PatientAccount(patient_id=clinic.patients[2].id, email="gus@example.com")
    session.add(parent)
    session.flush()
    session.add(PortalDependant(account_id=parent.id, patient_id=dup.id, relationship="parent", granted_by_user_id=user))
    _attachment(session, clinic, dup)
    _attachment(session, clinic, dup, b"%PDF-1.4 x-ray report")
    _attachment(session, clinic, keep)  # the same referral file already on the survivor
    session.commit()
    return dup, keep


def _counts(session, patient_ids):
    """Rows per (table, column) referencing any of these patients, by patient."""
    out = {}
    for table, column in merge.patient_references():
        if merge.POLICY.get((table.name, column)) == "merge_record":
            continue
        rows = session.execute(
            select(table.c[column], func.count()).where(table.c[column].in_(patient_ids)).group_by(table.c[column])
        ).all()
        out[(table.name, column)] = dict(rows)
    return out


def test_every_foreign_key_to_patient_has_a_merge_policy():
    found = {(t.name, c) for t, c in merge.patient_references()}
    assert found == set(merge.POLICY), "a table references patient: decide in merge.POLICY how a merge treats it"
    # A unique key with patient_id would make a plain move fail: such tables need "move_unless_same".
    for table, column in merge.patient_references():
        if merge._unique_partners(table, column) and merge.POLICY[(table.name, column)] == "move":
            pytest.fail(f"{table.name}.{column} is in a unique key; use move_unless_same")


def test_merge_moves_every_row_without_losing_or_copying_any(session, clinic):
    dup, keep = _fill(session, clinic)
    before = _counts(session, [dup.id, keep.id])
    # The fixture really exercises every table a merge touches.
    empty = [key for key, by_patient in before.items() if not by_patient.get(dup.id)]
    assert empty == [], f"give the duplicate a row in {empty}"
    totals_before = {key: sum(v.values()) for key, v in before.items()}
    balances_before = ledger.balances(session, patient_id=dup.id)

    result = merge.merge_patients(session, actor=clinic.reception, survivor_id=keep.id, duplicate_id=dup.id,
                                  reason="same person registered twice")

    session.expire_all()
    after = _counts(session, [dup.id, keep.id])
    assert {key: sum(v.values()) for key, v in after.items()} == totals_before
    for key, by_patient in after.items():
        expected_left = 1 if key in {("patient_consent", "patient_id"), ("attachment", "patient_id")} else 0
        assert by_patient.get(dup.id, 0) == expected_left, key
    # The survivor's own consent wins; the duplicate's copy stays with the merged record.
    left = session.execute(select(PatientConsent).where(PatientConsent.patient_id == dup.id)).scalar_one()
    assert left.kind == "treatment"
    assert result.kept == {**dict.fromkeys(result.kept, 0), "patient_consent": 1, "attachment": 1}
    # Final rows moved but are otherwise unchanged, and stay final afterwards.
    note = session.execute(select(Note)).scalar_one()
    assert note.patient_id == keep.id and note.signed_at is not None
    assert ledger.balances(session, patient_id=dup.id) == {"patient": 0, "insurance": 0, "total": 0}
    assert ledger.balances(session, patient_id=keep.id) == balances_before
    session.commit()  # the test is the caller: the merge is saved before the rule is tried
    with pytest.raises(IntegrityError):
        session.execute(text("UPDATE ledger_entry SET amount_cents = 1"))
    session.rollback()
    # The duplicate is kept, inactive, pointing at the survivor; the merge is audited.
    duplicate = session.get(Patient, dup.id)
    assert duplicate is not None and not duplicate.active
    assert merge.merged_into(session, patient_id=dup.id) == keep.id
    audit = session.execute(select(AuditLog).where(AuditLog.action == "merge")).scalar_one()
    assert audit.patient_id == keep.id and audit.entity_id == dup.id and audit.user_id == clinic.reception.user_id


def test_final_rows_cannot_move_to_a_patient_without_a_merge(session, clinic):
    dup, keep = _fill(session, clinic)
    for statement in (
        f"UPDATE ledger_entry SET patient_id = {keep.id}",
        f"UPDATE note SET patient_id = {keep.id}",
        f"UPDATE attachment SET patient_id = {keep.id} WHERE patient_id = {dup.id}",
        f"UPDATE measure_result SET patient_id = {keep.id}",
    ):
        with pytest.raises(IntegrityError):
            session.execute(text(statement))
        session.rollback()


def test_a_merge_move_may_not_change_anything_else(session, clinic):
    dup, keep = _fill(session, clinic)
    session.add(PatientMerge(duplicate_patient_id=dup.id, survivor_patient_id=keep.id))
    session.flush()
    with pytest.raises(IntegrityError):
        session.execute(text(f"UPDATE ledger_entry SET patient_id = {keep.id}, amount_cents = 1"))
    session.rollback()


def test_merge_refuses_self_and_merged_records_and_changes_nothing(session, clinic):
    a, b, c = clinic.patients
    with pytest.raises(InvalidInput, match="themselves"):
        merge.merge_patients(session, actor=clinic.reception, survivor_id=a.id, duplicate_id=a.id)
    merge.merge_patients(session, actor=clinic.reception, survivor_id=a.id, duplicate_id=b.id)
    with pytest.raises(InvalidInput, match="already merged"):
        merge.merge_patients(session, actor=clinic.reception, survivor_id=c.id, duplicate_id=b.id)
    with pytest.raises(InvalidInput, match="already merged"):
        merge.merge_patients(session, actor=clinic.reception, survivor_id=b.id, duplicate_id=c.id)
    assert session.get(Patient, c.id).active
    assert session.execute(select(func.count()).select_from(PatientMerge)).scalar_one() == 1


def test_merge_refuses_two_visits_at_the_same_time(session, clinic):
    dup, keep = clinic.patients[0], clinic.patients[1]
    book(session, clinic, "09:00", provider=0, patient=0)
    book(session, clinic, "09:15", provider=1, patient=1)
    with pytest.raises(InvalidInput, match=r"same time \(2030-03-12 09:00 with Ann Able"):
        merge.merge_patients(session, actor=clinic.reception, survivor_id=keep.id, duplicate_id=dup.id)
    assert session.get(Patient, dup.id).active
    assert session.execute(select(func.count()).select_from(PatientMerge)).scalar_one() == 0


def test_merge_needs_permission(session, clinic):
    a, b, _ = clinic.patients
    for actor in (clinic.clinician, clinic.biller, clinic.manager, clinic.admin):
        with pytest.raises(NotAllowed):
            merge.merge_patients(session, actor=actor, survivor_id=a.id, duplicate_id=b.id)


def test_preview_counts_rows_side_by_side(session, clinic):
    dup, keep = _fill(session, clinic)
    entries = session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    view = merge.preview(session, actor=clinic.reception, survivor_id=keep.id, duplicate_id=dup.id)
    assert view["duplicate"]["label"].startswith("Diaz, Cara")
    assert view["counts"]["ledger_entry"] == {"survivor": 0, "duplicate": entries}
    assert view["counts"]["appointment"] == {"survivor": 1, "duplicate": 1}
    assert view["clashes"] == []
    assert session.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == entries
    assert session.get(Patient, dup.id).active  # a preview changes nothing
