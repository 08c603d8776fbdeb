"""Intake before the first visit (services/portal/intake.py), on SQLite and PostgreSQL: forms as
versioned Questionnaires, answers with required fields, signed consents kept as PDFs that never
change (service and database), and the patient's link (hashed, single use, expiring, behind a
rate-limited date-of-birth check)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json

import pypdf
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.models import AuditLog, IntakeConsent, IntakeForm, IntakeLink, IntakeResponse
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound, from_db_error
from clinic_app.services.platform.limits import RateLimiter, TooManyAttempts
from clinic_app.services.portal import intake
from tests.conftest import DAY, at
from tests.services.helpers import book, now_at

CONSENT = "I agree to assessment and treatment by the clinic's clinicians."
FIELDS = [
    {"label": "Reason for your visit", "kind": "text", "required": True},
    {"label": "Pain now (0-10)", "kind": "scale", "low": 0, "high": 10, "required": True},
    {"label": "Weight", "kind": "number", "low": 1, "high": 400, "unit": "kg"},
    {"label": "How did you hear of us", "kind": "choice", "options": "Doctor\nFriend\nWeb"},
    {"label": "Conditions", "kind": "checklist", "options": ["Diabetes", "Heart disease", "None"]},
    {"label": "Consent to treatment", "kind": "consent", "text": CONSENT},
]
ANSWERS = {"reason_for_your_visit": "Knee pain on stairs", "pain_now_0_10": "4", "weight": "72.5",
           "how_did_you_hear_of_us": "Friend", "conditions": ["None"]}
DOB = dt.date(1980, 1, 1)  # Cara Diaz (tests/conftest.py)


def signature(blank: bool = False) -> str:
    image = Image.new("RGBA", (300, 120), (0, 0, 0, 0))
    if not blank:
        ImageDraw.Draw(image).line([(10, 100), (80, 20), (150, 90), (280, 30)], fill=(0, 0, 0, 255), width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def new_form(session, clinic, fields=FIELDS, kinds=("Initial evaluation",)):
    form, added = intake.save_form(session, actor=clinic.admin, code="NEW-PATIENT", title="New patient intake",
                                   visit_kinds=list(kinds), fields=fields, expected_version=None)
    session.commit()
    assert added
    return form


def visit_with_link(session, clinic, hhmm="10:00"):
    appt = book(session, clinic, hhmm, kind=clinic.evaluation)
    token = intake.issue_link(session, appointment_id=appt.id)
    session.commit()
    return appt, token


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


# -- forms ------------------------------------------------------------------------------------
def test_a_form_is_a_questionnaire_and_editing_makes_a_new_version(session, clinic):
    form = new_form(session, clinic)
    assert form.version == 1
    row = session.exec(select(IntakeForm).where(IntakeForm.code == "NEW-PATIENT")).one()
    q = json.loads(row.questionnaire)
    assert q["resourceType"] == "Questionnaire" and q["version"] == "1" and q["status"] == "active"
    by_id = {i["linkId"]: i for i in q["item"]}
    assert by_id["reason_for_your_visit"]["type"] == "text" and by_id["reason_for_your_visit"]["required"] is True
    assert by_id["pain_now_0_10"]["type"] == "integer"
    assert by_id["weight"]["type"] == "decimal"
    assert [o["valueString"] for o in by_id["how_did_you_hear_of_us"]["answerOption"]] == ["Doctor", "Friend", "Web"]
    assert by_id["conditions"]["repeats"] is True and by_id["conditions"]["type"] == "choice"
    assert by_id["consent_to_treatment"]["type"] == "attachment"
    assert by_id["consent_to_treatment"]["item"][0]["text"] == CONSENT

    unchanged, added = intake.save_form(session, actor=clinic.admin, code="NEW-PATIENT", title="New patient intake",
                                        visit_kinds=["Initial evaluation"], fields=FIELDS, expected_version=1)
    assert not added and unchanged.version == 1
    edited = [*FIELDS[:1], {"label": "Occupation", "kind": "text"}, *FIELDS[1:]]
    v2, added = intake.save_form(session, actor=clinic.admin, code="NEW-PATIENT", title="New patient intake",
                                 visit_kinds=["Initial evaluation"], fields=edited, expected_version=1)
    session.commit()
    assert added and v2.version == 2 and "Occupation" in [f.label for f in v2.fields]
    with pytest.raises(InvalidInput, match="saved by someone else"):
        intake.save_form(session, actor=clinic.admin, code="NEW-PATIENT", title="x", visit_kinds=[], fields=FIELDS,
                         expected_version=1)
    session.rollback()
    retired = intake.set_retired(session, actor=clinic.admin, code="NEW-PATIENT", retired=True, expected_version=2)
    session.commit()
    assert retired.version == 3 and retired.retired
    assert [r.version for r in intake.history(session, actor=clinic.admin, code="NEW-PATIENT")] == [3, 2, 1]


def test_form_fields_are_checked_as_note_template_fields_are(session, clinic):
    cases = [
        ([{"label": "", "kind": "text"}], "give it a label"),
        ([{"label": "Side", "kind": "choice", "options": "Left"}], "at least two options"),
        ([{"label": "Pain", "kind": "scale", "low": 0, "high": 20}], "scale runs within 0 to 10"),
        ([{"label": "Map", "kind": "body_chart"}], "choose its kind"),
        ([{"label": "Consent", "kind": "consent", "text": ""}], "write the text the patient signs"),
        ([{"label": "A", "kind": "text"}, {"label": "a", "kind": "text"}], "Two fields are named"),
        ([], "at least one field"),
    ]
    for fields, words in cases:
        with pytest.raises(InvalidInput, match=words):
            intake.save_form(session, actor=clinic.admin, code="F1", title="Form", visit_kinds=[], fields=fields,
                             expected_version=None)
        session.rollback()
    with pytest.raises(InvalidInput, match="not one of the clinic's appointment types"):
        intake.save_form(session, actor=clinic.admin, code="F1", title="Form", visit_kinds=["Yoga"], fields=FIELDS,
                         expected_version=None)
    session.rollback()
    with pytest.raises(NotAllowed):
        intake.save_form(session, actor=clinic.reception, code="F1", title="Form", visit_kinds=[], fields=FIELDS,
                         expected_version=None)
    session.rollback()
    assert session.exec(select(IntakeForm)).all() == []


def test_form_versions_never_change_in_the_database(engine, session, clinic):
    new_form(session, clinic)
    for statement in ("UPDATE intake_form SET title = 'rewritten'", "DELETE FROM intake_form"):
        with Session(engine) as raw, pytest.raises(IntegrityError, match="intake_form_final") as info:
            raw.execute(text(statement))
            raw.commit()
        assert "saved" in str(from_db_error(info.value))


# -- answers and consents ---------------------------------------------------------------------
def test_partial_saves_then_required_fields_then_a_signed_consent_pdf(session, clinic):
    new_form(session, clinic)
    appt, token = visit_with_link(session, clinic)
    assert intake.status_words(session, appointment_id=appt.id) == "Intake pending: New patient intake"

    partial = intake.save_answers(session, token=token, birth_date=DOB, form_code="NEW-PATIENT",
                                  answers={"reason_for_your_visit": "Knee pain"}, now=now_at("08:00"))
    session.commit()
    assert partial.status == "in-progress"
    seen = intake.visit_intake(session, token=token, birth_date=DOB, now=now_at("08:01"))
    assert seen.forms[0].status == "in-progress" and seen.forms[0].answers["reason_for_your_visit"] == "Knee pain"

    with pytest.raises(InvalidInput, match=r"Please answer: Pain now \(0-10\)"):
        intake.save_answers(session, token=token, birth_date=DOB, form_code="NEW-PATIENT",
                            answers={"reason_for_your_visit": "Knee pain"}, complete=True, now=now_at("08:02"))
    session.rollback()
    with pytest.raises(InvalidInput, match=r"Pain now \(0-10\): enter a whole number from 0 to 10"):
        intake.save_answers(session, token=token, birth_date=DOB, form_code="NEW-PATIENT",
                            answers={**ANSWERS, "pain_now_0_10": "12"}, now=now_at("08:02"))
    session.rollback()
    with pytest.raises(InvalidInput, match=r"Please sign: Consent to treatment \(signature\)"):
        intake.save_answers(session, token=token, birth_date=DOB, form_code="NEW-PATIENT", answers=ANSWERS,
                            complete=True, now=now_at("08:02"))
    session.rollback()
    with pytest.raises(InvalidInput, match="sign in the box"):
        intake.save_answers(session, token=token, birth_date=DOB, form_code="NEW-PATIENT", answers=ANSWERS,
                            signatures={"consent_to_treatment": signature(blank=True)}, complete=True, now=now_at("08:02"))
    session.rollback()
    assert session.exec(select(IntakeConsent)).all() == []

    done = intake.save_answers(session, token=token, birth_date=DOB, form_code="NEW-PATIENT", answers=ANSWERS,
                               signatures={"consent_to_treatment": signature()}, complete=True, now=now_at("08:05"))
    session.commit()
    assert done.status == "completed"
    response = json.loads(done.response)
    assert response["status"] == "completed" and response["questionnaire"].endswith("NEW-PATIENT|1")
    assert intake.answers_of(response)["conditions"] == "None"
    consent = session.exec(select(IntakeConsent)).one()
    assert consent.sha256 == hashlib.sha256(consent.pdf).hexdigest()
    words = pdf_text(consent.pdf)
    assert CONSENT in words and "Cara Diaz" in words and "Signed at: 2030-03-12 08:05" in words
    assert len(pypdf.PdfReader(io.BytesIO(consent.pdf)).pages[0].images) == 1  # the signature
    assert intake.status_words(session, appointment_id=appt.id) == "Intake complete"
    # The link is used up: the visit's intake is complete.
    with pytest.raises(NotFound, match="complete"):
        intake.visit_intake(session, token=token, birth_date=DOB)
    assert session.exec(select(AuditLog).where(AuditLog.entity == "intake_consent")).one().source == intake.SOURCE

    record = intake.patient_answers(session, actor=clinic.clinician, patient_id=appt.patient_id)
    assert record[0].status == "Completed" and ("Reason for your visit", "Knee pain on stairs") in record[0].answers
    opened = intake.open_consent(session, actor=clinic.clinician, consent_id=record[0].consents[0][0])
    assert opened.pdf == consent.pdf
    with pytest.raises(NotAllowed):
        intake.patient_answers(session, actor=clinic.clinician2, patient_id=appt.patient_id)


def test_answers_keep_the_version_they_began_with(session, clinic):
    new_form(session, clinic)
    _, token = visit_with_link(session, clinic)
    intake.save_answers(session, token=token, birth_date=DOB, form_code="NEW-PATIENT", answers={"weight": "70"},
                        now=now_at("08:00"))
    session.commit()
    intake.save_form(session, actor=clinic.admin, code="NEW-PATIENT", title="New patient intake (v2)",
                     visit_kinds=["Initial evaluation"], fields=[*FIELDS, {"label": "Occupation", "kind": "text",
                                                                            "required": True}], expected_version=1)
    session.commit()
    done = intake.save_answers(session, token=token, birth_date=DOB, form_code="NEW-PATIENT", answers=ANSWERS,
                               signatures={"consent_to_treatment": signature()}, complete=True, now=now_at("08:05"))
    session.commit()  # Occupation (required in v2) was not asked: the answers are to version 1
    assert json.loads(done.response)["questionnaire"].endswith("|1")
    assert session.get(IntakeForm, done.form_id).version == 1


def test_a_signed_consent_and_completed_answers_never_change(engine, session, clinic):
    new_form(session, clinic)
    appt, token = visit_with_link(session, clinic)
    intake.save_answers(session, token=token, birth_date=DOB, form_code="NEW-PATIENT", answers=ANSWERS,
                        signatures={"consent_to_treatment": signature()}, complete=True, now=now_at("08:05"))
    session.commit()
    # The service: a completed form is not reopened, even with a fresh link.
    again = intake.issue_link(session, appointment_id=appt.id)
    session.commit()
    with pytest.raises(NotAllowed, match="already complete"):
        intake.save_answers(session, token=again, birth_date=DOB, form_code="NEW-PATIENT", answers=ANSWERS,
                            now=now_at("08:06"))
    session.rollback()
    # The database: neither the consent nor the completed answers can be rewritten or removed.
    for statement, rule in (
        ("UPDATE intake_consent SET text = 'I agree to everything'", "intake_consent_signed"),
        ("UPDATE intake_consent SET pdf = :b, sha256 = 'x'", "intake_consent_signed"),
        ("DELETE FROM intake_consent", "intake_consent_signed"),
        ("UPDATE intake_response SET response = '{}'", "intake_response_completed"),
        ("UPDATE intake_response SET status = 'in-progress'", "intake_response_completed"),
    ):
        with Session(engine) as raw, pytest.raises(IntegrityError, match=rule) as info:
            raw.execute(text(statement), {"b": b"%PDF-forged"} if ":b" in statement else {})
            raw.commit()
        assert from_db_error(info.value) is not None
    consent = session.exec(select(IntakeConsent)).one()
    session.refresh(consent)
    assert CONSENT in pdf_text(consent.pdf)


def test_an_in_progress_answer_may_still_change_in_the_database(engine, session, clinic):
    new_form(session, clinic)
    _, token = visit_with_link(session, clinic)
    intake.save_answers(session, token=token, birth_date=DOB, form_code="NEW-PATIENT", answers={"weight": "70"},
                        now=now_at("08:00"))
    session.commit()
    with Session(engine) as raw:
        assert raw.execute(text("UPDATE intake_response SET updated_at = updated_at")).rowcount == 1
        raw.commit()


# -- links --------------------------------------------------------------------------------
def test_the_link_token_is_random_stored_as_its_hash_and_ends_with_the_visits_day(session, clinic):
    new_form(session, clinic)
    appt, token = visit_with_link(session, clinic)
    other = intake.issue_link(session, appointment_id=appt.id)
    session.commit()
    assert token != other and len(token) >= 40
    stored = session.exec(select(IntakeLink.token_sha256)).all()
    assert hashlib.sha256(token.encode()).hexdigest() in stored and token not in stored
    link = session.exec(select(IntakeLink).where(IntakeLink.token_sha256 == hashlib.sha256(token.encode()).hexdigest())).one()
    assert link.expires_at == at("00:00", DAY + dt.timedelta(days=1))
    assert intake.visit_intake(session, token=token, birth_date=DOB, now=at("23:59")).first_name == "Cara"
    with pytest.raises(NotFound, match="expired"):
        intake.visit_intake(session, token=token, birth_date=DOB, now=at("00:00", DAY + dt.timedelta(days=1)))
    with pytest.raises(NotFound, match="not valid"):
        intake.visit_intake(session, token=token[:-1] + ("A" if token[-1] != "A" else "B"), birth_date=DOB)
    with pytest.raises(NotFound, match="not valid"):
        intake.visit_intake(session, token="", birth_date=DOB)


def test_nothing_is_shown_before_the_date_of_birth_and_tries_are_limited(session, clinic):
    new_form(session, clinic)
    _, token = visit_with_link(session, clinic)
    limits = RateLimiter()
    now = now_at("08:00")
    with pytest.raises(NotAllowed, match="date of birth"):
        intake.visit_intake(session, token=token, birth_date=dt.date(1990, 5, 5), now=now)
    with pytest.raises(InvalidInput, match="year-month-day"):
        intake.confirm_birth_date(session, token=token, birth_date="01/01/1980", limiter_=limits, now=now)
    session.rollback()
    assert intake.confirm_birth_date(session, token=token, birth_date="1990-05-05", limiter_=limits, now=now) is False
    session.commit()
    assert intake.confirm_birth_date(session, token=token, birth_date="1980-01-01", limiter_=limits, now=now) is True
    session.commit()
    for _ in range(intake.DOB_TRIES_PER_MINUTE - 3):  # the malformed, wrong and right tries counted too
        intake.confirm_birth_date(session, token=token, birth_date="1990-05-05", limiter_=limits, now=now)
        session.commit()
    with pytest.raises(TooManyAttempts, match="wait"):  # even the right date, within the minute
        intake.confirm_birth_date(session, token=token, birth_date="1980-01-01", limiter_=limits, now=now)
    session.rollback()
    later = now + dt.timedelta(minutes=1)
    assert intake.confirm_birth_date(session, token=token, birth_date="1980-01-01", limiter_=limits, now=later) is True


def test_a_link_locks_after_too_many_wrong_dates_of_birth(session, clinic):
    new_form(session, clinic)
    _, token = visit_with_link(session, clinic)
    limits = RateLimiter()
    for n in range(intake.DOB_MISSES_BEFORE_LOCK):
        assert not intake.confirm_birth_date(session, token=token, birth_date="1990-05-05", limiter_=limits,
                                             now=now_at("08:00") + dt.timedelta(minutes=n))
        session.commit()
    with pytest.raises(TooManyAttempts, match="locked"):
        intake.confirm_birth_date(session, token=token, birth_date="1980-01-01", limiter_=limits, now=now_at("09:00"))


def test_reminders_get_a_link_only_while_a_form_is_pending(session, clinic):
    appt = book(session, clinic, "10:00", kind=clinic.evaluation)
    treatment = book(session, clinic, "11:00")
    assert intake.reminder_link(session, appointment_id=appt.id) is None  # no form yet
    new_form(session, clinic)
    assert intake.reminder_link(session, appointment_id=treatment.id) is None  # its type needs none
    assert intake.status_words(session, appointment_id=treatment.id) == ""  # the panel says nothing then
    url = intake.reminder_link(session, appointment_id=appt.id)
    session.commit()
    assert url.startswith("http") and "/intake?token=" in url
    token = url.split("token=", 1)[1]
    intake.save_answers(session, token=token, birth_date=DOB, form_code="NEW-PATIENT", answers=ANSWERS,
                        signatures={"consent_to_treatment": signature()}, complete=True, now=now_at("08:05"))
    session.commit()
    assert intake.reminder_link(session, appointment_id=appt.id) is None
    assert session.exec(select(IntakeResponse)).one().status == "completed"


def test_the_reminder_email_carries_the_intake_link_while_a_form_is_pending(session, clinic, tmp_path, smtp):
    from clinic_app.services.frontdesk import reminders
    from tests.services.test_reminders import EVE, _prefers, send_due

    inbox, port = smtp
    new_form(session, clinic)
    _prefers(session, clinic.patients[0], "email")
    _prefers(session, clinic.patients[1], "email")
    book(session, clinic, "09:00", patient=0, kind=clinic.evaluation)
    book(session, clinic, "09:30", provider=1, patient=1)  # a treatment: no form asked for
    assert reminders.schedule_reminders(session, now=EVE) == 2
    senders = {"email": reminders.SmtpEmailSender(host="127.0.0.1", port=port),
               "sms": reminders.FileSmsSender(tmp_path / "sms.jsonl")}
    assert send_due(session, now=EVE, **senders)["sent"] == 2
    bodies = {to[0]: message.get_body(("plain",)).get_content() for to, message in inbox.messages}
    assert "/intake?token=" not in bodies["eli@example.com"]
    url = next(line for line in bodies["cara@example.com"].splitlines() if "/intake?token=" in line)
    token = url.split("token=", 1)[1].strip()
    assert session.exec(select(IntakeLink).where(IntakeLink.token_sha256 == hashlib.sha256(token.encode()).hexdigest())).one()
    assert intake.visit_intake(session, token=token, birth_date=DOB, now=EVE).forms[0].form.code == "NEW-PATIENT"
