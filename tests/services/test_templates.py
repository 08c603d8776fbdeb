"""Note templates: choosing one per visit, structured fields checked by kind, copy forward."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from clinic_app.models import NoteField, NoteTemplate, Provider
from clinic_app.services.charting import charting, templates
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NoteAlreadySigned
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


# -- admin-edited templates, kept as versions ----------------------------------------------
def _daily_fields(session):
    return [
        {"key": f.key, "label": f.label, "section": f.section, "kind": f.kind, "options": list(f.options),
         "low": f.low, "high": f.high, "unit": f.unit}
        for f in templates.template(session, "PT-DAILY").fields
    ]


def _save(session, clinic, code="PT-DAILY", fields=None, version=0, **changes):
    spec = {"name": "Physiotherapy daily note (SOAP)", "discipline": "physiotherapy", "visit_kinds": ["Treatment"],
            "form": "SOAP", "section_labels": {}, "fields": fields if fields is not None else _daily_fields(session)}
    spec.update(changes)
    return templates.save_template(session, actor=clinic.admin, code=code, expected_version=version, **spec)


def test_editing_a_template_never_changes_notes_already_written_with_it(session, clinic):
    _, old_note = charted_note(session, clinic, "08:00")
    templates.use_template(session, actor=clinic.clinician, note_id=old_note.id, code="PT-DAILY")
    templates.save_field(session, actor=clinic.clinician, note_id=old_note.id, key="hep", value="Rarely")
    charting.sign_note(session, actor=clinic.clinician, note_id=old_note.id)

    fields = _daily_fields(session)
    hep = next(f for f in fields if f["key"] == "hep")
    hep["options"] = ["Every day", "Some days", "Not at all"]
    fields.remove(next(f for f in fields if f["key"] == "next"))
    fields.insert(0, {"label": "Red flags screened", "section": "subjective", "kind": "checklist",
                      "options": ["Night pain", "Weight loss", "None"]})
    saved, changed = _save(session, clinic, fields=fields, section_labels={"objective": "Findings"})
    assert changed and saved.version == 1
    assert [f.key for f in saved.fields][:2] == ["red_flags_screened", "pain_now"]
    assert saved.section_labels["objective"] == "Findings"

    # The signed note still reads with the version it was written with: its choice is still valid.
    old = templates.form_of(session, note_id=old_note.id)
    assert old.version == 0 and "Rarely" in next(f for f in old.fields if f.key == "hep").options
    assert "next" in [f.key for f in old.fields]
    # A new note gets the new version; the old choice is refused, the new one taken.
    _, new_note = charted_note(session, clinic, "10:00")
    templates.use_template(session, actor=clinic.clinician, note_id=new_note.id, code="PT-DAILY")
    assert templates.form_of(session, note_id=new_note.id).version == 1
    with pytest.raises(InvalidInput, match="choose one of Every day, Some days, Not at all"):
        templates.save_field(session, actor=clinic.clinician, note_id=new_note.id, key="hep", value="Rarely")
    assert templates.save_field(session, actor=clinic.clinician, note_id=new_note.id, key="hep", value="Some days") == "Some days"
    # A note opened before the edit but still a draft keeps its pinned version too.
    assert templates.form_of(session, note_id=old_note.id).fields == templates.TEMPLATES["PT-DAILY"].fields


def test_a_saved_template_version_is_never_changed_or_deleted_by_the_database(session, clinic):
    _save(session, clinic, name="Daily note")
    session.commit()  # the test is the caller
    row = session.exec(select(NoteTemplate)).one()
    row.name = "Rewritten"
    session.add(row)
    with pytest.raises(IntegrityError, match="note_template_final"):
        session.commit()
    session.rollback()
    session.delete(session.exec(select(NoteTemplate)).one())
    with pytest.raises(IntegrityError, match="note_template_final"):
        session.commit()
    session.rollback()
    assert session.exec(select(NoteTemplate.name)).one() == "Daily note"


def test_bad_templates_are_refused_with_a_message_naming_the_field(session, clinic):
    good = {"label": "Pain", "section": "subjective", "kind": "scale", "low": 0, "high": 10}
    cases = [
        ({"code": "x"}, "template code is 2-24 capital letters"),
        ({"name": " "}, "Give the template a name"),
        ({"form": "SOAPY"}, "Choose the note's form"),
        ({"visit_kinds": ["Yoga"]}, "'Yoga' is not one of the clinic's visit kinds"),
        ({"fields": [good, {"label": "", "section": "plan", "kind": "text"}]}, r"Field 2: give it a label"),
        ({"fields": [{"label": "Mood", "section": "plan", "kind": "choice", "options": "Low"}]},
         r"Field 1 \(Mood\): a choice needs at least two options, one per line"),
        ({"fields": [{"label": "Mood", "section": "plan", "kind": "choice", "options": "Low\nLow"}]}, "listed twice"),
        ({"fields": [{**good, "high": 12}]}, r"Field 1 \(Pain\): a scale runs within 0 to 10"),
        ({"fields": [{**good, "kind": "number", "low": "5", "high": "1"}]}, "lowest value must be below the highest"),
        ({"fields": [{**good, "kind": "number", "low": "a"}]}, r"Field 1 \(Pain\), lowest: enter a whole number"),
        ({"fields": [{**good, "kind": "dial"}]}, "choose its kind"),
        ({"fields": [{**good, "section": "objective"}], "form": "DAP"}, "a DAP note has no Objective section"),
        ({"fields": [good, good]}, "Two fields in Subjective are named 'Pain'"),
        ({"fields": [{"label": "Chart", "section": "objective", "kind": "body_chart"}] * 2}, "one body chart at most"),
    ]
    for changes, message in cases:
        spec = {"code": "OT-EVAL", "fields": [good], **changes}
        with pytest.raises(InvalidInput, match=message):
            _save(session, clinic, version=None, name=spec.pop("name", "OT evaluation"), **spec)
    assert session.exec(select(NoteTemplate)).all() == []
    with pytest.raises(NotAllowed):
        templates.save_template(session, actor=clinic.clinician, code="OT-EVAL", name="x", discipline="", visit_kinds=[],
                                form="SOAP", section_labels={}, fields=[], expected_version=None)


def test_new_templates_retiring_and_two_admins_editing_at_once(session, clinic):
    created, _ = _save(session, clinic, code="OT-EVAL", version=None, name="Occupational therapy evaluation",
                       discipline="Occupational therapy", visit_kinds=[], form="DAP",
                       fields=[{"label": "Body chart", "section": "subjective", "kind": "body_chart"},
                               {"label": "Grip strength", "section": "assessment", "kind": "number", "low": 0, "high": 90,
                                "unit": "kg"}])
    assert (created.version, created.discipline, created.section_labels["subjective"]) == (1, "occupational therapy", "Data")
    with pytest.raises(InvalidInput, match="already has a template OT-EVAL"):
        _save(session, clinic, code="OT-EVAL", version=None)
    # Saving what is already there adds no version.
    same, changed = _save(session, clinic, code="OT-EVAL", version=1, name=created.name, discipline="occupational therapy",
                          visit_kinds=[], form="DAP", fields=[{"key": f.key, "label": f.label, "section": f.section,
                                                               "kind": f.kind, "low": f.low, "high": f.high, "unit": f.unit}
                                                              for f in created.fields])
    assert (same.version, changed) == (1, False)
    # The listing filters by discipline (templates for any discipline are always listed).
    listed = [t.code for t in templates.listing(session, actor=clinic.admin, discipline="occupational therapy")]
    assert listed == ["SOAP", "OT-EVAL"]
    assert "PT-EVAL" in [t.code for t in templates.listing(session, actor=clinic.admin, visit_kind="Initial evaluation")]
    assert "PT-DAILY" not in [t.code for t in templates.listing(session, actor=clinic.admin, visit_kind="Initial evaluation")]
    # Admin A saves the PT daily note; admin B, who opened version 0, is told and writes nothing.
    _save(session, clinic, version=0, name="Daily note A")
    with pytest.raises(InvalidInput, match="saved by someone else since you opened it \\(it is now version 1\\)"):
        _save(session, clinic, version=0, name="Daily note B")
    assert templates.template(session, "PT-DAILY").name == "Daily note A"
    # Retired: not offered for new notes, refused if asked for; a note already using it keeps it.
    _, note = charted_note(session, clinic)
    templates.use_template(session, actor=clinic.clinician, note_id=note.id, code="PT-DAILY")
    retired = templates.set_retired(session, actor=clinic.admin, code="PT-DAILY", retired=True, expected_version=1)
    assert retired.version == 2 and retired.retired
    assert "PT-DAILY" not in [t.code for t in templates.templates_for(session, appointment_id=note.appointment_id)]
    with pytest.raises(InvalidInput, match="template is retired; choose another"):
        templates.use_template(session, actor=clinic.clinician, note_id=note.id, code="PT-DAILY")
    assert templates.form_of(session, note_id=note.id).name == "Daily note A"
    with pytest.raises(InvalidInput, match="cannot be retired"):
        templates.set_retired(session, actor=clinic.admin, code="SOAP", retired=True, expected_version=0)
    back = templates.set_retired(session, actor=clinic.admin, code="PT-DAILY", retired=False, expected_version=2)
    assert (back.version, back.retired) == (3, False)
    assert [r.version for r in templates.history(session, actor=clinic.admin, code="PT-DAILY")] == [3, 2, 1]


def test_a_body_chart_field_takes_no_typed_value(session, clinic):
    _save(session, clinic, code="PT-BODY", version=None, name="With body chart", visit_kinds=[],
          fields=[{"label": "Where it hurts", "section": "objective", "kind": "body_chart"}])
    _, note = charted_note(session, clinic)
    templates.use_template(session, actor=clinic.clinician, note_id=note.id, code="PT-BODY")
    with pytest.raises(InvalidInput, match="Where it hurts: mark the regions on the body chart figure"):
        templates.save_field(session, actor=clinic.clinician, note_id=note.id, key="where_it_hurts", value="knee")
