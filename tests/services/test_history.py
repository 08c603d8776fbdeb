"""Problem list with offline ICD-10-CM search, allergies and medications with alerts."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import struct
import zlib

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.models import AuditLog, CarePlan, PatientMedication
from clinic_app.services.charting import history
from clinic_app.services.charting.codes import search_icd10
from clinic_app.services.platform.errors import InvalidInput, NotAllowed
from tests.services.helpers import book


def test_icd10_search_finds_billable_codes_by_words_or_code():
    hits = search_icd10("low back pain")
    assert ("M54.50", "Low back pain, unspecified") in hits
    assert all("." in code or len(code) == 3 for code, _ in hits)
    assert search_icd10("m545")[0][0].startswith("M54.5")
    assert search_icd10("M54") and all(code.startswith("M54.") for code, _ in search_icd10("M54")[:5])
    assert search_icd10("x") == []
    assert search_icd10("zzqqxx nothing") == []


@pytest.fixture
def patient(session, clinic):
    book(session, clinic, "09:00")  # patient 0 is a patient of clinician (provider 0)
    session.commit()  # the fixture is the caller: it commits what the services did
    return clinic.patients[0].id


def test_the_problem_list_takes_billable_codes_and_keeps_resolved_ones(session, clinic, patient):
    row = history.add_problem(session, actor=clinic.clinician, patient_id=patient, code="m54.50")
    with pytest.raises(InvalidInput, match="already on the problem list"):
        history.add_problem(session, actor=clinic.clinician, patient_id=patient, code="M54.50")
    with pytest.raises(InvalidInput, match="category"):
        history.add_problem(session, actor=clinic.clinician, patient_id=patient, code="M54")
    assert [p.code for p in history.summary(session, actor=clinic.clinician, patient_id=patient)["problems"]] == ["M54.50"]
    history.resolve_problem(session, actor=clinic.clinician, problem_id=row.id)
    assert history.summary(session, actor=clinic.clinician, patient_id=patient)["problems"] == []
    history.add_problem(session, actor=clinic.clinician, patient_id=patient, code="M54.50")  # it came back


def test_only_the_patients_clinicians_see_or_change_the_record(session, clinic, patient):
    for actor in (clinic.clinician2, clinic.reception, clinic.biller, clinic.admin):
        with pytest.raises(NotAllowed):
            history.summary(session, actor=actor, patient_id=patient)
        with pytest.raises(NotAllowed):
            history.add_allergy(session, actor=actor, patient_id=patient, substance="Latex")


def test_a_medication_matching_an_allergy_needs_confirmation(session, clinic, patient):
    history.add_allergy(session, actor=clinic.clinician, patient_id=patient, substance="Ibuprofen", reaction="hives")
    with pytest.raises(history.NeedsConfirmation, match=r"allergic to Ibuprofen \(hives\)"):
        history.add_medication(session, actor=clinic.clinician, patient_id=patient, name="ibuprofen 400", drug_class="NSAID")
    assert session.exec(select(PatientMedication)).all() == []
    history.add_medication(session, actor=clinic.clinician, patient_id=patient, name="ibuprofen 400", drug_class="NSAID", confirm=True)
    assert [m.name for m in history.summary(session, actor=clinic.clinician, patient_id=patient)["medications"]] == ["ibuprofen 400"]


def test_duplicate_therapy_is_flagged_by_name_and_class(session, clinic, patient):
    history.add_medication(session, actor=clinic.clinician, patient_id=patient, name="Naproxen", drug_class="NSAID")
    with pytest.raises(history.NeedsConfirmation, match=r"Duplicate therapy: Naproxen is in the same class \(NSAID\)"):
        history.add_medication(session, actor=clinic.clinician, patient_id=patient, name="Diclofenac", drug_class="NSAID")
    with pytest.raises(history.NeedsConfirmation, match="Duplicate: Naproxen is already on the medication list"):
        history.add_medication(session, actor=clinic.clinician, patient_id=patient, name="naproxen", drug_class="other")
    history.add_medication(session, actor=clinic.clinician, patient_id=patient, name="Vitamin D", drug_class="other")
    naproxen = history.summary(session, actor=clinic.clinician, patient_id=patient)["medications"][0]
    history.stop_medication(session, actor=clinic.clinician, medication_id=naproxen.id)
    history.add_medication(session, actor=clinic.clinician, patient_id=patient, name="Diclofenac", drug_class="NSAID")


def test_an_allergy_to_a_drug_the_patient_takes_needs_confirmation(session, clinic, patient):
    history.add_medication(session, actor=clinic.clinician, patient_id=patient, name="Codeine", drug_class="opioid")
    with pytest.raises(history.NeedsConfirmation, match="the patient takes Codeine"):
        history.add_allergy(session, actor=clinic.clinician, patient_id=patient, substance="codeine")
    history.add_allergy(session, actor=clinic.clinician, patient_id=patient, substance="codeine", confirm=True)
    with pytest.raises(InvalidInput, match="already recorded"):
        history.add_allergy(session, actor=clinic.clinician, patient_id=patient, substance="Codeine", confirm=True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"name": " "}, "medication's name"), ({"drug_class": "vitamin"}, "class from the list"), ({"dose": "x" * 81}, "dose")],
)
def test_bad_medication_entries_are_refused(session, clinic, patient, fields, message):
    with pytest.raises(InvalidInput, match=message):
        history.add_medication(session, actor=clinic.clinician, patient_id=patient, **{"name": "Tramadol", "drug_class": "opioid", **fields})
    assert session.exec(select(PatientMedication)).all() == []


def test_the_database_keeps_clinical_records(engine, session, clinic, patient):
    history.add_problem(session, actor=clinic.clinician, patient_id=patient, code="M54.50")
    history.add_allergy(session, actor=clinic.clinician, patient_id=patient, substance="Latex")
    history.add_medication(session, actor=clinic.clinician, patient_id=patient, name="Naproxen", drug_class="NSAID")
    history.add_goal(session, actor=clinic.clinician, patient_id=patient, term="short", text="Kneel",
                     target_date="2030-04-01", today=dt.date(2030, 3, 12))
    history.add_exercise(session, actor=clinic.clinician, patient_id=patient, name="Bridges")
    session.commit()  # the test is the caller
    for table in ("patient_problem", "patient_allergy", "patient_medication", "plan_goal", "home_exercise"):
        with Session(engine) as raw, pytest.raises(IntegrityError, match="clinical_record_kept"):
            raw.execute(text(f"DELETE FROM {table}"))
            raw.commit()


# -- treatment plan goals ------------------------------------------------------------------
def test_frequency_and_duration_of_care_are_saved_with_their_history(session, clinic, patient):
    today = dt.date(2030, 3, 12)
    assert history.care_plan(session, actor=clinic.clinician, patient_id=patient) is None
    history.set_care_plan(session, actor=clinic.clinician, patient_id=patient, visits_per_week="2", duration_weeks="6",
                          starts_on="", today=today)
    plan = history.care_plan(session, actor=clinic.clinician, patient_id=patient)
    assert history.plan_words(plan) == "2 visits a week for 6 weeks from 2030-03-12"
    history.set_care_plan(session, actor=clinic.clinician, patient_id=patient, visits_per_week=1, duration_weeks=1,
                          starts_on="2030-04-01", today=today)
    plan = history.care_plan(session, actor=clinic.clinician, patient_id=patient)
    assert history.plan_words(plan) == "1 visit a week for 1 week from 2030-04-01"
    # The earlier plan is kept; both saves are in the audit log.
    assert len(session.exec(select(CarePlan).where(CarePlan.patient_id == patient)).all()) == 2
    assert len(session.exec(select(AuditLog).where(AuditLog.entity == "care_plan")).all()) == 2
    for fields, message in (
        ({"visits_per_week": "0"}, "visits per week as a whole number from 1 to 7"),
        ({"visits_per_week": "twice"}, "visits per week"), ({"duration_weeks": "53"}, "duration in weeks .* 1 to 52"),
        ({"starts_on": "2029-01-01"}, "more than a year ago"), ({"starts_on": "soon"}, "Date must look like"),
    ):
        with pytest.raises(InvalidInput, match=message):
            history.set_care_plan(session, actor=clinic.clinician, patient_id=patient,
                                  **{"visits_per_week": "3", "duration_weeks": "4", "starts_on": "", "today": today, **fields})
    # Another clinician's patient, and reception, are refused; nothing was added by any refusal.
    with pytest.raises(NotAllowed):
        history.set_care_plan(session, actor=clinic.clinician2, patient_id=patient, visits_per_week=3, duration_weeks=4,
                              starts_on="", today=today)
    with pytest.raises(NotAllowed):
        history.care_plan(session, actor=clinic.reception, patient_id=patient)
    assert len(session.exec(select(CarePlan).where(CarePlan.patient_id == patient)).all()) == 2
    # The database refuses a frequency the service would have refused.
    with pytest.raises(IntegrityError):
        session.execute(text("INSERT INTO care_plan (patient_id, visits_per_week, duration_weeks, starts_on, recorded_by_user_id, "
                             "recorded_at) VALUES (:p, 9, 4, '2030-03-12', :u, '2030-03-12 10:00:00')"),
                        {"p": patient, "u": clinic.clinician.user_id})
        session.flush()
    session.rollback()


def test_goals_have_a_term_a_future_target_and_a_status(session, clinic, patient):
    today = dt.date(2030, 3, 12)
    history.add_goal(session, actor=clinic.clinician, patient_id=patient, term="long", text="Return to running 5 km",
                     target_date="2030-06-01", today=today)
    short = history.add_goal(session, actor=clinic.clinician, patient_id=patient, term="short",
                             text=" Stairs without rail ", target_date="2030-04-01", today=today)
    history.set_goal_status(session, actor=clinic.clinician, goal_id=short.id, status="met")
    assert [(g.term, g.text, g.target_date.isoformat(), g.status)
            for g in history.goals(session, actor=clinic.clinician, patient_id=patient)] == [
        ("short", "Stairs without rail", "2030-04-01", "met"), ("long", "Return to running 5 km", "2030-06-01", "active"),
    ]
    for fields, message in (
        ({"term": "mid"}, "short term or long term"), ({"text": " "}, "Write the goal"),
        ({"target_date": "2030-03-11"}, "is in the past"), ({"target_date": "next week"}, "Date must look like"),
    ):
        with pytest.raises(InvalidInput, match=message):
            history.add_goal(session, actor=clinic.clinician, patient_id=patient,
                             **{"term": "short", "text": "Kneel", "target_date": "2030-04-01", "today": today, **fields})
    with pytest.raises(InvalidInput, match="A goal is active, met"):
        history.set_goal_status(session, actor=clinic.clinician, goal_id=short.id, status="done")
    with pytest.raises(NotAllowed):
        history.set_goal_status(session, actor=clinic.clinician2, goal_id=short.id, status="not met")
    assert len(history.goals(session, actor=clinic.clinician, patient_id=patient)) == 2


# -- home exercise programme ---------------------------------------------------------------
def _pdf_text(pdf: bytes) -> str:
    """The text drawn on a PDF's pages (its content streams, inflated)."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
    text = []
    for raw in streams:
        try:
            text.append(zlib.decompress(raw).decode("latin-1"))
        except zlib.error:
            text.append(raw.decode("latin-1"))
    return "".join(text)


def test_the_home_programme_prints_as_a_pdf_and_is_audited(session, clinic, patient):
    with pytest.raises(InvalidInput, match="at least one exercise"):
        history.home_programme_pdf(session, actor=clinic.clinician, patient_id=patient, today=dt.date(2030, 3, 12))
    history.add_exercise(session, actor=clinic.clinician, patient_id=patient, name="Heel raises", dosage="3 x 10, twice a day",
                         instructions="Hold a chair; rise slowly onto your toes.")
    stopped = history.add_exercise(session, actor=clinic.clinician, patient_id=patient, name="Wall squats")
    history.stop_exercise(session, actor=clinic.clinician, exercise_id=stopped.id)
    pdf = history.home_programme_pdf(session, actor=clinic.clinician, patient_id=patient, today=dt.date(2030, 3, 12))
    assert pdf.startswith(b"%PDF-")
    words = _pdf_text(pdf)
    assert "Heel raises" in words and "3 x 10, twice a day" in words and "Cara Diaz" in words
    assert "Wall squats" not in words
    assert session.exec(select(AuditLog).where(AuditLog.action == "print")).one().patient_id == patient
    with pytest.raises(InvalidInput, match="Name the exercise"):
        history.add_exercise(session, actor=clinic.clinician, patient_id=patient, name=" ")
    with pytest.raises(NotAllowed):
        history.home_programme_pdf(session, actor=clinic.clinician2, patient_id=patient, today=dt.date(2030, 3, 12))


# -- attachments ---------------------------------------------------------------------------
def _png(width: int = 4, height: int = 3) -> bytes:
    """A real (grey) PNG image."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _pdf(catalog_extra: bytes = b"") -> bytes:
    """A one-page PDF (no cross-reference table: viewers and the check repair that)."""
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R" + catalog_extra + b">>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
            b"endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


PNG = _png()
PDF = _pdf()


def test_attachments_are_typed_by_content_sized_checksummed_and_audited(session, clinic, patient):
    row = history.add_attachment(session, actor=clinic.clinician, patient_id=patient, filename="C:\\scans\\knee.png", data=PNG)
    assert (row.filename, row.content_type, row.size_bytes) == ("knee.png", "image/png", len(PNG))
    assert row.sha256 == hashlib.sha256(PNG).hexdigest()
    history.add_attachment(session, actor=clinic.clinician, patient_id=patient, filename="referral.pdf", data=PDF)
    for name, data, message in (
        ("notes.txt", b"hello", "not a PNG or JPEG image or a PDF"),
        ("fake.pdf", b"MZ\x90\x00", "not a PNG or JPEG image or a PDF"),
        ("big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024), "attachments can be up to 5 MB"),
        # The first bytes say PNG, JPEG or PDF; the rest must be one too (issue 12, break 7).
        ("page.png", b"\x89PNG\r\n\x1a\n<html><script>alert(document.cookie)</script></html>", "not a readable PNG image"),
        ("page.jpg", b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>", "not a readable JPEG image"),
        ("cut.png", _png()[:40], "not a readable PNG image"),
        ("script.pdf", _pdf(b"/OpenAction<</S/JavaScript/JS(app.alert(1))>>"), r"holds scripts.*\(/JavaScript\)"),
        ("hidden.pdf", _pdf(b"/OpenAction<</S/J#61vaScript/J#53(app.alert(1))>>"), r"holds scripts.*\(/JavaScript\)"),
        ("launch.pdf", _pdf(b"/OpenAction<</S/Launch/F(cmd.exe)>>"), r"holds scripts.*\(/Launch\)"),
        ("files.pdf", _pdf(b"/Names<</EmbeddedFiles 4 0 R>>"), r"holds scripts.*\(/EmbeddedFiles\)"),
        ("noise.pdf", b"%PDF-1.4\n" + b"\x00garbage" * 50, "not a readable PDF"),
        ("empty.png", b"", "is empty"),
        ("again.png", PNG, "already attached as knee.png"),
    ):
        with pytest.raises(InvalidInput, match=message):
            history.add_attachment(session, actor=clinic.clinician, patient_id=patient, filename=name, data=data)
    assert [a.filename for a in history.attachments(session, actor=clinic.clinician, patient_id=patient)] == ["referral.pdf", "knee.png"]
    opened = history.open_attachment(session, actor=clinic.clinician, attachment_id=row.id)
    assert opened.data == PNG
    assert session.exec(select(AuditLog).where(AuditLog.entity == "attachment", AuditLog.action == "view")).one()
    with pytest.raises(NotAllowed):
        history.open_attachment(session, actor=clinic.clinician2, attachment_id=row.id)


def test_the_database_keeps_attachments_unchanged(engine, session, clinic, patient):
    history.add_attachment(session, actor=clinic.clinician, patient_id=patient, filename="knee.png", data=PNG)
    for statement, rule in (("UPDATE attachment SET filename = 'x.png'", "attachment_final"),
                            ("DELETE FROM attachment", "clinical_record_kept")):
        session.commit()  # the test is the caller: its work is saved before another connection writes
        with Session(engine) as raw, pytest.raises(IntegrityError, match=rule):
            raw.execute(text(statement))
            raw.commit()


def test_a_pdf_whose_script_hides_in_a_compressed_object_stream_is_refused(session, clinic, patient):
    body = b"4 0 <</S/JavaScript/JS(app.alert(1))>>"
    packed = zlib.compress(body)
    pdf = (b"%PDF-1.5\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction 4 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>"
           b"endobj 3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n5 0 obj<</Type/ObjStm/N 1/First 4"
           b"/Filter/FlateDecode/Length " + str(len(packed)).encode() + b">>stream\n" + packed + b"\nendstream endobj\n"
           b"trailer<</Root 1 0 R>>\n%%EOF\n")
    with pytest.raises(InvalidInput, match="holds scripts"):
        history.add_attachment(session, actor=clinic.clinician, patient_id=patient, filename="packed.pdf", data=pdf)
    session.rollback()
    assert history.attachments(session, actor=clinic.clinician, patient_id=patient) == []
