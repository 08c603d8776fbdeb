"""The body chart: structured marks per note, checked, locked when signed, compared later."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from clinic_app.services.charting import body_chart, charting
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NoteAlreadySigned
from tests.services.helpers import charted_note, in_session


def test_regions_are_marked_with_a_symptom_and_intensity(session, clinic):
    _, note = charted_note(session, clinic)
    body_chart.mark_region(session, actor=clinic.clinician, note_id=note.id, region="r_knee_f", symptom="pain", intensity="6")
    body_chart.mark_region(session, actor=clinic.clinician, note_id=note.id, region="lower_back_b", symptom="stiffness", intensity=3)
    body_chart.mark_region(session, actor=clinic.clinician, note_id=note.id, region="r_knee_f", symptom="swelling", intensity=4)
    assert [body_chart.describe(m) for m in body_chart.marks(session, note_id=note.id)] == [
        "Right knee (front): swelling 4/10", "Lower back: stiffness 3/10",
    ]
    body_chart.clear_region(session, actor=clinic.clinician, note_id=note.id, region="lower_back_b")
    assert [m.region for m in body_chart.marks(session, note_id=note.id)] == ["r_knee_f"]


@pytest.mark.parametrize(
    ("region", "symptom", "intensity", "message"),
    [("elbow", "pain", 3, "Tap a region"), ("r_knee_f", "itch", 3, "Choose the symptom"),
     ("r_knee_f", "pain", 11, "from 0 to 10"), ("r_knee_f", "pain", "bad", "from 0 to 10")],
)
def test_bad_marks_are_refused(session, clinic, region, symptom, intensity, message):
    _, note = charted_note(session, clinic)
    with pytest.raises(InvalidInput, match=message):
        body_chart.mark_region(session, actor=clinic.clinician, note_id=note.id, region=region, symptom=symptom, intensity=intensity)
    assert body_chart.marks(session, note_id=note.id) == []


def test_marks_lock_with_the_note_and_show_at_the_next_visit(engine, session, clinic):
    _, first = charted_note(session, clinic, "08:00")
    body_chart.mark_region(session, actor=clinic.clinician, note_id=first.id, region="l_shoulder_f", symptom="pain", intensity=7)
    with pytest.raises(NotAllowed):
        body_chart.mark_region(session, actor=clinic.clinician2, note_id=first.id, region="l_shoulder_f", symptom="pain", intensity=1)
    charting.sign_note(session, actor=clinic.clinician, note_id=first.id)
    with pytest.raises(NoteAlreadySigned):
        body_chart.clear_region(session, actor=clinic.clinician, note_id=first.id, region="l_shoulder_f")
    session.commit()  # the test is the caller: its work is saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError, match="note_signed"):
        raw.execute(text("UPDATE body_mark SET intensity = 1"))
        raw.commit()
    appt = in_session(session, clinic, "10:00")
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    when, previous = body_chart.last_visit_marks(session, note=note)
    assert when.startswith("2030-03-12") and [body_chart.describe(m) for m in previous] == ["Left shoulder (front): pain 7/10"]
