"""Note templates: choosing one per visit, structured fields checked by kind, copy forward."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from clinic_app.models import NoteField, Provider
from clinic_app.services import charting, templates
from clinic_app.services.errors import InvalidInput, NotAllowed, NoteAlreadySigned
from tests.services.helpers import book, charted_note, in_session


def test_templates_fit_the_clinicians_discipline_and_the_visit_kind(session, clinic):
    daily = book(session, clinic, "09:00")
    evaluation = book(session, clinic, "10:00", kind=clinic.evaluation)
    assert [t.code for t in templates.templates_for(session, appointment_id=daily.id)] == ["PT-DAILY", "PT-EVAL", "SOAP"]
    assert [t.code for t in templates.templates_for(session, appointment_id=evaluation.id)] == ["PT-EVAL", "PT-DAILY", "SOAP"]
    provider = session.get(Provider, clinic.providers[0].id)
    provider.discipline = "psychotherapy"
    session.add(provider)
    session.commit()
    assert [t.code for t in templates.templates_for(session, appointment_id=daily.id)] == ["PSY-DAP", "SOAP"]


def test_fields_are_checked_by_kind_and_stored(session, clinic):
    _, note = charted_note(session, clinic)
    templates.use_template(session, actor=clinic.clinician, note_id=note.id, code="pt-daily")
    save = lambda key, value: templates.save_field(session, actor=clinic.clinician, note_id=note.id, key=key, value=value)  # noqa: E731
    assert save("pain_now", " 4 ") == "4"
    assert save("rom_deg", "112.5") == "112.5"
    assert save("hep", "Most days") == "Most days"
    assert save("interventions", ["Manual therapy", "Therapeutic exercise"]) == '["Therapeutic exercise", "Manual therapy"]'
    assert save("next", "Progress to squats") == "Progress to squats"
    for key, value, message in (
        ("pain_now", "11", "Pain now .*whole number from 0 to 10"), ("pain_now", "4.5", "whole number"),
        ("rom_deg", "200", "from 0 to 180 degrees"), ("hep", "Weekly", "choose one of Daily"),
        ("interventions", ["Dry needling"], "'Dry needling' is not one of its choices"),
        ("next", "x" * 2001, "over 2,000 characters"), ("nope", "1", "has no field 'nope'"),
    ):
        with pytest.raises(InvalidInput, match=message):
            save(key, value)
    stored = templates.values(session, note_id=note.id)
    assert (stored["pain_now"], json.loads(stored["interventions"])) == ("4", ["Therapeutic exercise", "Manual therapy"])
    assert templates.form_of(session, note_id=note.id).code == "PT-DAILY"


def test_a_dap_note_has_data_assessment_and_plan(session, clinic):
    appt = in_session(session, clinic)
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    assert templates.form_of(session, note_id=note.id).section_labels["subjective"] == "Subjective"
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="objective", text="Observed")
    with pytest.raises(InvalidInput, match="no Objective section"):
        templates.use_template(session, actor=clinic.clinician, note_id=note.id, code="PSY-DAP")
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="objective", text="")
    chosen = templates.use_template(session, actor=clinic.clinician, note_id=note.id, code="PSY-DAP")
    assert chosen.section_labels == {"subjective": "Data", "objective": "", "assessment": "Assessment", "plan": "Plan"}
    with pytest.raises(InvalidInput, match="not one of the clinic's note templates"):
        templates.use_template(session, actor=clinic.clinician, note_id=note.id, code="XYZ")


def test_template_fields_lock_with_the_note_and_belong_to_its_clinician(session, clinic):
    _, note = charted_note(session, clinic)
    templates.use_template(session, actor=clinic.clinician, note_id=note.id, code="PT-DAILY")
    with pytest.raises(NotAllowed):
        templates.save_field(session, actor=clinic.clinician2, note_id=note.id, key="pain_now", value="3")
    templates.save_field(session, actor=clinic.clinician, note_id=note.id, key="pain_now", value="3")
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    with pytest.raises(NoteAlreadySigned):
        templates.save_field(session, actor=clinic.clinician, note_id=note.id, key="pain_now", value="2")
    with pytest.raises(NoteAlreadySigned):
        templates.use_template(session, actor=clinic.clinician, note_id=note.id, code="SOAP")
    assert session.exec(select(NoteField)).one().value == "3"


def test_copy_forward_brings_the_template_and_its_values(session, clinic):
    _, first = charted_note(session, clinic, "08:00")
    templates.use_template(session, actor=clinic.clinician, note_id=first.id, code="PT-DAILY")
    templates.save_field(session, actor=clinic.clinician, note_id=first.id, key="hep", value="Daily")
    templates.save_field(session, actor=clinic.clinician, note_id=first.id, key="pain_now", value="6")
    charting.sign_note(session, actor=clinic.clinician, note_id=first.id)
    appt = in_session(session, clinic, "10:00")
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=appt.id)
    assert charting.copy_forward(session, actor=clinic.clinician, note_id=note.id) == [
        "subjective section(s)", "the template", "2 template field value(s)", "diagnoses M25.561"
    ]
    assert templates.form_of(session, note_id=note.id).code == "PT-DAILY"
    assert templates.values(session, note_id=note.id) == {"hep": "Daily", "pain_now": "6"}
