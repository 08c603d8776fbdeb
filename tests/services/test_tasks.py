"""The task rules (services/tasks): each task appears when its condition starts, closes itself
when it ends, and is never opened twice; the inbox's actions; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from clinic_app.models import AuditLog, CarePlan, Coverage, LedgerEntry, ProgressNoteLimit, Task
from clinic_app.services.charting import charting, clinicians
from clinic_app.services.frontdesk import cases, scheduling
from clinic_app.services.kpi import kpi
from clinic_app.services.platform.errors import InvalidInput, NotAllowed
from clinic_app.services.revenue import claims, ledger
from clinic_app.services.tasks import inbox, limits, rules
from tests.conftest import DAY, at
from tests.services.helpers import book, charted_note, now_at
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing

MORNING = now_at("07:00")


def open_tasks(session, kind):
    return list(session.exec(select(Task).where(Task.kind == kind, Task.status != "done")).all())


def all_tasks(session, kind):
    return list(session.exec(select(Task).where(Task.kind == kind).order_by(Task.id)).all())


def run(session, kind, subject, now):
    rules.evaluate(session, kind, subject, now=now)
    session.commit()


def book_on(session, clinic, day, hhmm="09:00", *, patient=0, provider=0, case_id=None, kind=None, now=None):
    return scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[patient].id, provider_id=clinic.providers[provider].id,
        appointment_type_id=(kind or clinic.treatment).id, starts_at=at(hhmm, day), case_id=case_id,
        now=now or MORNING,
    )


def cancel(session, clinic, appointment_id, now=MORNING):
    scheduling.transition(session, actor=clinic.reception, appointment_id=appointment_id, to_status="cancelled",
                          reason="Patient asked", now=now)


# -- authorisation -------------------------------------------------------------------------------
def test_authorisation_task_when_two_visits_are_left_closes_when_renewed(session, clinic):
    patient = clinic.patients[0]
    episode = cases.open_case(session, actor=clinic.reception, patient_id=patient.id, title="Left knee", authorized_visits=4)
    for hhmm in ("09:00", "10:00"):
        book(session, clinic, hhmm)
    appts = [book_on(session, clinic, DAY + dt.timedelta(days=d), case_id=episode.id) for d in (1, 2)]
    assert rules.on_appointment(session, appts[1].id, now=MORNING)  # 4 authorised, 2 booked: 2 left
    session.commit()
    [task] = open_tasks(session, "authorisation")
    assert task.queue_role == "reception" and task.case_id == episode.id and task.patient_id == patient.id
    assert "2 authorised visits left" in task.title
    assert task.due_on == DAY + dt.timedelta(days=1)

    run(session, "authorisation", episode.id, MORNING)  # not twice
    rules.on_appointment(session, appts[0].id, now=MORNING)
    session.commit()
    assert len(all_tasks(session, "authorisation")) == 1

    cases.update_case(session, actor=clinic.reception, case_id=episode.id, authorized_visits=12)
    session.commit()
    run(session, "authorisation", episode.id, MORNING)
    [closed] = all_tasks(session, "authorisation")
    assert closed.status == "done" and closed.closed_by_user_id is None and closed.open_key is None


def test_authorisation_task_when_a_visit_is_booked_past_the_end_date(session, clinic):
    episode = cases.open_case(session, actor=clinic.reception, patient_id=clinic.patients[0].id, title="Back",
                              auth_end=DAY + dt.timedelta(days=3))
    inside = book_on(session, clinic, DAY + dt.timedelta(days=2), case_id=episode.id)
    run(session, "authorisation", episode.id, MORNING)
    assert open_tasks(session, "authorisation") == []  # nothing booked after the end

    past = book_on(session, clinic, DAY + dt.timedelta(days=5), case_id=episode.id)
    rules.on_appointment(session, past.id, now=MORNING)
    session.commit()
    [task] = open_tasks(session, "authorisation")
    assert "booked after it" in task.title and task.appointment_id == inside.id

    cancel(session, clinic, past.id)
    rules.on_appointment(session, past.id, now=MORNING)
    session.commit()
    assert open_tasks(session, "authorisation") == []


# -- plan of care ----------------------------------------------------------------------------------
def test_plan_of_care_ending_with_visits_booked_after_it(session, clinic):
    patient = clinic.patients[0]
    session.add(CarePlan(patient_id=patient.id, visits_per_week=2, duration_weeks=4, starts_on=DAY - dt.timedelta(days=26),
                         recorded_by_user_id=clinic.clinician.user_id))
    session.commit()
    run(session, "plan_of_care", patient.id, MORNING)
    assert open_tasks(session, "plan_of_care") == []  # no visit after the plan's end (DAY + 2)

    later = book_on(session, clinic, DAY + dt.timedelta(days=4))
    rules.on_appointment(session, later.id, now=MORNING)
    session.commit()
    [task] = open_tasks(session, "plan_of_care")
    assert task.assignee_user_id == clinic.clinician.user_id and task.due_on == DAY + dt.timedelta(days=2)
    run(session, "plan_of_care", patient.id, MORNING)
    assert len(all_tasks(session, "plan_of_care")) == 1

    session.add(CarePlan(patient_id=patient.id, visits_per_week=2, duration_weeks=8, starts_on=DAY,
                         recorded_by_user_id=clinic.clinician.user_id))
    session.commit()
    run(session, "plan_of_care", patient.id, MORNING)
    assert open_tasks(session, "plan_of_care") == []


# -- progress note ----------------------------------------------------------------------------------
def signed_evaluation(session, clinic):
    appt = book(session, clinic, "09:00", kind=clinic.evaluation)
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=now_at("09:00"))
    scheduling.transition(session, actor=clinic.clinician, appointment_id=appt.id, to_status="in_session", now=now_at("09:00"))
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="Evaluation")
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code="M25.561")
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97161", units=1)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id, now=now_at("10:30"))
    return appt, note


def test_progress_note_due_30_days_after_the_evaluation(session, clinic):
    patient = clinic.patients[0]
    _appt, note = signed_evaluation(session, clinic)
    day20 = at("07:00", DAY + dt.timedelta(days=20))
    nxt = book_on(session, clinic, DAY + dt.timedelta(days=33), now=day20)
    run(session, "progress_note", patient.id, day20)
    assert open_tasks(session, "progress_note") == []

    day31 = at("07:00", DAY + dt.timedelta(days=31))
    run(session, "progress_note", patient.id, day31)
    [task] = open_tasks(session, "progress_note")
    assert task.assignee_user_id == clinic.clinician.user_id and task.note_id == note.id
    assert task.due_on == DAY + dt.timedelta(days=30) and "30 days" in task.title
    run(session, "progress_note", patient.id, day31)
    assert len(all_tasks(session, "progress_note")) == 1

    cancel(session, clinic, nxt.id, now=day31)  # no visit ahead: the patient is out of care
    rules.on_appointment(session, nxt.id, now=day31)
    session.commit()
    assert open_tasks(session, "progress_note") == []


# -- notes ------------------------------------------------------------------------------------------
def test_unsigned_note_after_24_hours_closes_when_signed(session, clinic):
    appt, note = charted_note(session, clinic)
    run(session, "unsigned_note", note.id, note.created_at + dt.timedelta(hours=2))
    assert open_tasks(session, "unsigned_note") == []

    later = note.created_at + dt.timedelta(hours=25)
    run(session, "unsigned_note", note.id, later)
    rules.sweep(session, now=later)
    session.commit()
    [task] = all_tasks(session, "unsigned_note")
    assert task.status == "open" and task.assignee_user_id == clinic.clinician.user_id and task.appointment_id == appt.id

    charting.sign_note(session, actor=clinic.clinician, note_id=note.id, now=later)
    rules.on_appointment(session, appt.id, now=later)
    session.commit()
    assert open_tasks(session, "unsigned_note") == []


def test_cosignature_waiting_goes_to_the_supervisor(session, clinic):
    clinicians.set_supervisor(session, actor=clinic.admin, provider_id=clinic.providers[0].id,
                              supervisor_provider_id=clinic.providers[1].id)
    appt, note = charted_note(session, clinic)
    run(session, "cosign", note.id, now_at("10:00"))
    assert open_tasks(session, "cosign") == []  # not signed yet

    charting.sign_note(session, actor=clinic.clinician, note_id=note.id, now=now_at("10:00"))
    rules.on_appointment(session, appt.id, now=now_at("10:01"))
    session.commit()
    [task] = open_tasks(session, "cosign")
    assert task.assignee_user_id == clinic.clinician2.user_id
    run(session, "cosign", note.id, now_at("10:02"))
    assert len(all_tasks(session, "cosign")) == 1

    charting.cosign_note(session, actor=clinic.clinician2, note_id=note.id, now=now_at("11:00"))
    rules.on_appointment(session, appt.id, now=now_at("11:01"))
    session.commit()
    assert open_tasks(session, "cosign") == []


# -- claims -----------------------------------------------------------------------------------------
def test_denied_claim_task_closes_when_appealed_and_returns_on_a_new_denial(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    claim = claimed_visit(session, clinic)
    claims.set_status(session, actor=clinic.biller, claim_id=claim.id, to_status="submitted", now=now_at("12:00"))
    rules.on_claims(session, now=now_at("12:01"))
    session.commit()
    assert open_tasks(session, "claim_denied") == []

    claims.set_status(session, actor=clinic.biller, claim_id=claim.id, to_status="denied", now=now_at("13:00"))
    rules.on_claims(session, now=now_at("13:01"))
    rules.on_claims(session, now=now_at("13:02"))
    session.commit()
    [task] = open_tasks(session, "claim_denied")
    assert task.queue_role == "biller" and task.claim_id == claim.id and task.due_on == DAY + dt.timedelta(days=7)

    claims.set_status(session, actor=clinic.biller, claim_id=claim.id, to_status="appealed", now=now_at("14:00"))
    rules.on_claims(session, now=now_at("14:01"))
    session.commit()
    assert open_tasks(session, "claim_denied") == []

    claims.set_status(session, actor=clinic.biller, claim_id=claim.id, to_status="denied", now=now_at("15:00"))
    rules.on_claims(session, now=now_at("15:01"))
    session.commit()
    assert len(open_tasks(session, "claim_denied")) == 1 and len(all_tasks(session, "claim_denied")) == 2


def test_claim_unanswered_after_30_days(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    claim = claimed_visit(session, clinic)
    claims.set_status(session, actor=clinic.biller, claim_id=claim.id, to_status="submitted", now=now_at("12:00"))
    run(session, "claim_unanswered", claim.id, at("12:00", DAY + dt.timedelta(days=29)))
    assert open_tasks(session, "claim_unanswered") == []

    day31 = at("12:00", DAY + dt.timedelta(days=31))
    rules.sweep(session, now=day31)
    rules.sweep(session, now=day31)
    session.commit()
    [task] = open_tasks(session, "claim_unanswered")
    assert task.queue_role == "biller" and task.due_on == DAY + dt.timedelta(days=30)

    claims.set_status(session, actor=clinic.biller, claim_id=claim.id, to_status="paid", now=day31)
    rules.on_claims(session, now=day31)
    session.commit()
    assert open_tasks(session, "claim_unanswered") == []


# -- eligibility ---------------------------------------------------------------------------------------
def test_eligibility_not_checked_before_a_visit_in_the_next_3_days(session, clinic):
    payer = set_up_billing(session, clinic)
    coverage = cover(session, clinic, payer)
    far = book_on(session, clinic, DAY + dt.timedelta(days=6))
    rules.on_appointment(session, far.id, now=MORNING)
    session.commit()
    assert open_tasks(session, "eligibility") == []

    near = book_on(session, clinic, DAY + dt.timedelta(days=1))
    rules.on_appointment(session, near.id, now=MORNING)
    rules.on_appointment(session, near.id, now=MORNING)
    session.commit()
    [task] = open_tasks(session, "eligibility")
    assert task.queue_role == "reception" and "not checked" in task.title and task.due_on == DAY + dt.timedelta(days=1)

    coverage.eligibility_status = "active"
    session.add(coverage)
    session.commit()
    run(session, "eligibility", clinic.patients[0].id, MORNING)
    assert open_tasks(session, "eligibility") == []


# -- balance ---------------------------------------------------------------------------------------------
def test_balance_over_90_days_closes_when_paid(session, clinic):
    patient = clinic.patients[0]
    session.add(LedgerEntry(patient_id=patient.id, kind="charge", amount_cents=5000, service_date=DAY,
                            created_at=MORNING - dt.timedelta(days=60)))
    session.commit()
    rules.sweep(session, now=MORNING)
    session.commit()
    assert open_tasks(session, "balance_90") == []  # 60 days old

    later = MORNING + dt.timedelta(days=35)
    rules.sweep(session, now=later)
    rules.sweep(session, now=later)
    session.commit()
    [task] = open_tasks(session, "balance_90")
    assert task.queue_role == "biller" and "$50.00" in task.title

    ledger.take_payment(session, actor=clinic.biller, patient_id=patient.id, amount="50", method="cash", now=later)
    rules.on_claims(session, now=later)
    session.commit()
    assert open_tasks(session, "balance_90") == []


# -- the database's promise and the inbox ---------------------------------------------------------------
def test_the_database_refuses_a_second_open_task_for_one_rule_and_subject(session, clinic):
    for _ in range(2):
        session.add(Task(kind="eligibility", key="eligibility:1:1", open_key="eligibility:1:1", patient_id=clinic.patients[0].id,
                         title="x", due_on=DAY, queue_role="reception"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    bad = Task(kind="manual", patient_id=clinic.patients[0].id, title="x", due_on=DAY, status="done")  # no closing time, no owner
    session.add(bad)
    with pytest.raises(IntegrityError):
        session.commit()


def test_inbox_work_assign_snooze_complete_and_a_completed_task_stays_done(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    near = book_on(session, clinic, DAY + dt.timedelta(days=1))
    rules.on_appointment(session, near.id, now=MORNING)
    session.commit()
    desk = clinic.reception
    page = inbox.inbox(session, actor=desk, now=MORNING)
    session.commit()
    assert page["total"] == 1 and page["count"] == 1 and page["rows"][0]["link"] == f"/patients/{clinic.patients[0].id}"
    assert inbox.inbox(session, actor=clinic.biller, now=MORNING)["total"] == 0  # not the biller's queue
    task_id = page["rows"][0]["id"]

    with pytest.raises(NotAllowed):
        inbox.complete(session, actor=clinic.biller, task_id=task_id)
    inbox.assign(session, actor=desk, task_id=task_id, user_id=clinic.biller.user_id)
    session.commit()
    assert inbox.open_count(session, actor=clinic.biller) == 1
    assert inbox.inbox(session, actor=clinic.biller, what=inbox.InboxFilter(show="mine"), now=MORNING)["total"] == 1

    with pytest.raises(InvalidInput):
        inbox.snooze(session, actor=desk, task_id=task_id, until=DAY, now=MORNING)
    inbox.snooze(session, actor=desk, task_id=task_id, until=DAY + dt.timedelta(days=1), now=MORNING)
    session.commit()
    assert inbox.open_count(session, actor=desk) == 0
    assert rules.sweep(session, now=at("07:00", DAY + dt.timedelta(days=1)))["woken"] == 1
    session.commit()
    assert inbox.open_count(session, actor=desk) == 1

    inbox.complete(session, actor=clinic.biller, task_id=task_id, note="Called the payer: active")
    session.commit()
    rules.on_appointment(session, near.id, now=MORNING)  # the condition still holds
    session.commit()
    [done] = all_tasks(session, "eligibility")
    assert done.status == "done" and done.closed_by_user_id == clinic.biller.user_id and done.note.startswith("Called")
    actions = set(session.exec(select(AuditLog.action).where(AuditLog.entity.in_(("task", "task_inbox")))).all())
    assert {"view", "assign", "snooze", "complete"} <= actions


def test_hand_made_task_for_a_role_or_a_person(session, clinic):
    patient = clinic.patients[1]
    with pytest.raises(InvalidInput):
        inbox.create(session, actor=clinic.reception, patient_id=patient.id, title="Call back", due_on=DAY, now=MORNING)
    with pytest.raises(InvalidInput):
        inbox.create(session, actor=clinic.reception, patient_id=patient.id, title="  ", due_on=DAY, queue_role="biller", now=MORNING)
    task = inbox.create(session, actor=clinic.reception, patient_id=patient.id, title="Explain the statement",
                        due_on=DAY, queue_role="biller", now=MORNING)
    mine = inbox.create(session, actor=clinic.reception, patient_id=patient.id, title="Send the exercise sheet",
                        due_on=DAY, assignee_user_id=clinic.clinician.user_id, now=MORNING)
    session.commit()
    assert task.kind == "manual" and task.created_by_user_id == clinic.reception.user_id
    assert [r["id"] for r in inbox.inbox(session, actor=clinic.biller, now=MORNING)["rows"]] == [task.id]
    assert [r["id"] for r in inbox.inbox(session, actor=clinic.clinician, what=inbox.InboxFilter(show="mine"), now=MORNING)["rows"]] == [mine.id]
    assert inbox.inbox(session, actor=clinic.clinician2, now=MORNING)["total"] == 0
    with pytest.raises(NotAllowed):
        inbox.inbox(session, actor=clinic.admin, now=MORNING)


def test_docs_list_each_rule_with_its_exact_condition():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "tasks.md").read_text(encoding="utf-8")
    for rule in rules.RULES.values():
        assert f"`{rule.kind}`" in text and rule.text in text and rule.closes in text, rule.kind


def test_tasks_changed_travels_the_redis_bus_and_pushed_rows_are_kept_by_each_inbox_filter():
    from clinic_app.live.events import TASKS_TOPIC, TasksChanged, decode

    event = TasksChanged(task_ids=(3, 7))
    assert decode(event.to_json()) == event and event.topics() == [TASKS_TOPIC]
    row = {"status": "open", "queue_role": "reception", "assignee_user_id": 0, "created_by_user_id": 0,
           "due_on": "2030-03-10", "patient_id": 5, "kind": "eligibility"}
    desk = {"role": "reception", "user_id": 9, "day": "2030-03-12"}
    assert inbox.matches(row, what=inbox.InboxFilter(), **desk)
    assert inbox.matches(row, what=inbox.InboxFilter(show="overdue", kind="eligibility", patient_id=5), **desk)
    assert not inbox.matches(row, what=inbox.InboxFilter(show="mine"), **desk)
    assert not inbox.matches(row, what=inbox.InboxFilter(patient_id=6), **desk)
    assert not inbox.matches(row, what=inbox.InboxFilter(), role="biller", user_id=9, day="2030-03-12")
    assert not inbox.matches({**row, "status": "done"}, what=inbox.InboxFilter(), **desk)
    assert inbox.count_for([("reception", None, 4), (None, 9, 2), ("biller", 9, 1), ("biller", None, 8)],
                           role="reception", user_id=9) == 7


# -- the sweep (every subject at once) and the per-subject evaluate agree ----------------------------
SUBJECTS = {"case": "care_case", "patient": "patient", "note": "note", "claim": "claim", "appointment": "appointment",
            "thread": "message_thread"}
# The portal's rules sweep by their one-subject check over their few candidates (rules._each):
# their own tests (test_portal_task_rules.py) give them work; this clinic has none for them.
PORTAL_RULES = {"intake_incomplete", "message_unanswered", "profile_change"}


def _a_clinic_where_every_rule_has_work(session, clinic):
    """Patient 0: an evaluation signed (co-signature, progress anchor), a claim sent, a claim
    denied, an unsigned note, coverage not checked, visits ahead; patient 1: an episode with 3
    authorised visits and a plan of care ending, with visits booked after both; patient 2: an
    old balance."""
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    sent = claimed_visit(session, clinic, "11:00")
    claims.set_status(session, actor=clinic.biller, claim_id=sent.id, to_status="submitted", now=now_at("12:00"))
    denied = claimed_visit(session, clinic, "13:00")
    claims.set_status(session, actor=clinic.biller, claim_id=denied.id, to_status="submitted", now=now_at("13:30"))
    claims.set_status(session, actor=clinic.biller, claim_id=denied.id, to_status="denied", now=now_at("14:00"))
    clinicians.set_supervisor(session, actor=clinic.admin, provider_id=clinic.providers[0].id,
                              supervisor_provider_id=clinic.providers[1].id)
    signed_evaluation(session, clinic)
    charted_note(session, clinic, "15:00")
    for days in (1, 33):
        book_on(session, clinic, DAY + dt.timedelta(days=days))
    episode = cases.open_case(session, actor=clinic.reception, patient_id=clinic.patients[1].id, title="Shoulder",
                              authorized_visits=3, auth_end=DAY + dt.timedelta(days=3))
    for days in (1, 2, 5):
        book_on(session, clinic, DAY + dt.timedelta(days=days), "10:00", patient=1, provider=1, case_id=episode.id)
    session.add(CarePlan(patient_id=clinic.patients[1].id, visits_per_week=2, duration_weeks=1, starts_on=DAY - dt.timedelta(days=4),
                         recorded_by_user_id=clinic.clinician.user_id))
    session.add(LedgerEntry(patient_id=clinic.patients[2].id, kind="charge", amount_cents=7000, service_date=DAY,
                            created_at=MORNING - dt.timedelta(days=100)))
    session.commit()


def _snapshot(session):
    return sorted(
        (t.kind, t.key, t.subject, t.status, t.title, t.due_on, t.queue_role, t.assignee_user_id, t.appointment_id,
         t.note_id, t.claim_id, t.case_id, t.note, t.open_key)
        for t in session.exec(select(Task)).all()
    )


@pytest.mark.parametrize("payer_numbers", [None, (3, 20)], ids=["clinic-numbers", "payer-numbers"])
def test_the_sweep_and_the_per_subject_evaluate_agree(session, clinic, payer_numbers):
    _a_clinic_where_every_rule_has_work(session, clinic)
    if payer_numbers:  # patient 0's payer: a progress note after 3 visits or 20 days
        payer_id = session.exec(select(Coverage.payer_id)).first()
        limits.set_progress_limit(session, actor=clinic.biller, payer_id=payer_id, visits=payer_numbers[0], days=payer_numbers[1])
        session.commit()
    nows = [MORNING, at("07:00", DAY + dt.timedelta(days=1)), at("07:00", DAY + dt.timedelta(days=31)),
            at("07:00", DAY + dt.timedelta(days=45))]
    ids = {name: [r[0] for r in session.exec(text(f"SELECT id FROM {table}")).all()] for name, table in SUBJECTS.items()}
    found = set()
    for now in nows:  # the condition, subject by subject and all at once
        for kind, rule in rules.RULES.items():
            every = rule.every(session, now)
            assert set(every) <= set(ids[rule.subject]), kind
            for subject in ids[rule.subject]:
                assert every.get(subject) == rule.check(session, subject, now), (kind, subject, now)
            found |= {kind} if every else set()
    assert found == set(rules.RULES) - PORTAL_RULES  # every other rule had work on some day

    for now in nows:  # the tasks: opened, retitled and closed in bulk = one subject at a time
        rules.sweep(session, now=now)
    session.commit()
    swept = _snapshot(session)
    session.exec(delete(Task))
    session.commit()
    for now in nows:
        for kind, rule in rules.RULES.items():
            for subject in ids[rule.subject]:
                rules.evaluate(session, kind, subject, now=now)
    session.commit()
    assert swept == _snapshot(session)
    assert any(row[3] == "done" for row in swept) and any(row[3] == "open" for row in swept)


def test_the_sweep_does_not_reopen_a_task_a_person_completed_nor_open_one_twice(session, clinic):
    _a_clinic_where_every_rule_has_work(session, clinic)
    rules.sweep(session, now=MORNING)
    session.commit()
    first = _snapshot(session)
    assert rules.sweep(session, now=MORNING) == dict.fromkeys([*rules.RULES, "woken"], 0)
    session.commit()
    assert _snapshot(session) == first
    [task] = open_tasks(session, "claim_denied")
    inbox.complete(session, actor=clinic.biller, task_id=task.id, note="Appealed by phone")
    session.commit()
    rules.sweep(session, now=MORNING)
    session.commit()
    assert open_tasks(session, "claim_denied") == []


# -- the manager's view (KPI dashboard) ------------------------------------------------------------
def test_open_and_overdue_tasks_per_kind_and_person_for_the_manager(session, clinic):
    patient = clinic.patients[0].id
    for days, owner in ((0, {"queue_role": "reception"}), (1, {"assignee_user_id": clinic.clinician.user_id}),
                        (5, {"assignee_user_id": clinic.clinician.user_id}), (6, {"queue_role": "reception"})):
        inbox.create(session, actor=clinic.reception, patient_id=patient, title=f"Call back {days}",
                     due_on=DAY + dt.timedelta(days=days), now=MORNING, **owner)
    snoozed = inbox.create(session, actor=clinic.reception, patient_id=patient, title="Later", due_on=DAY,
                           queue_role="reception", now=MORNING)
    inbox.snooze(session, actor=clinic.reception, task_id=snoozed.id, until=DAY + dt.timedelta(days=10), now=MORNING)
    session.add(LedgerEntry(patient_id=clinic.patients[2].id, kind="charge", amount_cents=7000, service_date=DAY,
                            created_at=MORNING - dt.timedelta(days=100)))
    session.commit()
    rules.sweep(session, now=MORNING)  # a balance task for the billers, due DAY
    session.commit()

    workload = kpi.task_workload(session, actor=clinic.manager, now=at("07:00", DAY + dt.timedelta(days=3)))
    assert workload["open"] == 5 and workload["overdue"] == 3  # the snoozed task is not counted
    assert {(r["name"], r["open"], r["overdue"]) for r in workload["by_kind"]} == {
        ("Hand-made", 4, 2), ("Balance over 90 days", 1, 1)}
    assert {(r["name"], r["open"], r["overdue"]) for r in workload["by_person"]} == {
        ("Front desk queue", 2, 1), (clinic.clinician.name, 2, 1), ("Billers' queue", 1, 1)}
    with pytest.raises(NotAllowed):
        kpi.task_workload(session, actor=clinic.biller)


# -- per-payer progress-note numbers ---------------------------------------------------------------
def test_a_payers_own_progress_note_numbers_make_it_due_sooner(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    patient = clinic.patients[0]
    signed_evaluation(session, clinic)  # DAY 09:00
    for hhmm in ("11:00", "13:00"):
        book(session, clinic, hhmm)
    book_on(session, clinic, DAY + dt.timedelta(days=2))
    session.commit()
    evening = at("20:00", DAY)
    run(session, "progress_note", patient.id, evening)
    assert open_tasks(session, "progress_note") == []  # 2 visits, 0 days: not due with 10 / 30

    with pytest.raises(NotAllowed):
        limits.set_progress_limit(session, actor=clinic.reception, payer_id=payer.id, visits=2, days=20)
    for visits, days in ((0, 20), ("two", 20), (2, 400)):
        with pytest.raises(InvalidInput):
            limits.set_progress_limit(session, actor=clinic.biller, payer_id=payer.id, visits=visits, days=days)
    limits.set_progress_limit(session, actor=clinic.biller, payer_id=payer.id, visits=2, days=20)
    session.commit()
    rules.sweep(session, now=evening)
    session.commit()
    [task] = open_tasks(session, "progress_note")
    assert task.title.startswith("Progress note due: 2 visits") and task.due_on == DAY
    assert session.exec(select(AuditLog).where(AuditLog.entity == "progress_note_limit")).first() is not None

    limits.set_progress_limit(session, actor=clinic.biller, payer_id=payer.id, visits=None, days=None)  # back to 10 / 30
    session.commit()
    rules.sweep(session, now=evening)
    session.commit()
    assert open_tasks(session, "progress_note") == []


def test_the_database_refuses_progress_numbers_out_of_range_and_two_rows_for_a_payer(session, clinic):
    payer = set_up_billing(session, clinic)
    session.add(ProgressNoteLimit(payer_id=payer.id, visits=0, days=30))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    session.add_all([ProgressNoteLimit(payer_id=payer.id, visits=5, days=30), ProgressNoteLimit(payer_id=payer.id, visits=6, days=30)])
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
