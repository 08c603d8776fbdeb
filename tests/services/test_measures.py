"""Outcome measures: scoring, storing per visit, clinic-defined measures, and the trend."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from clinic_app.models import MeasureResult
from clinic_app.services.charting import charting, measures
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NoteAlreadySigned
from tests.services.helpers import charted_note


def test_nprs_psfs_and_lefs_are_scored_as_published():
    assert measures.score(measures.BUILTIN["NPRS"], ["7"])[0] == 7
    total, values, labels = measures.score(
        measures.BUILTIN["PSFS"], [3, 5, 4, "", ""], ["Stairs", "Kneeling", "Running", "", ""]
    )
    assert (total, values, labels) == (4.0, [3, 5, 4], ["Stairs", "Kneeling", "Running"])
    assert measures.score(measures.BUILTIN["PSFS"], [2, 3, 3, 6], ["a", "b", "c", "d"])[0] == 3.5
    assert measures.score(measures.BUILTIN["PSFS"], [1, 2, 2], ["a", "b", "c"])[0] == 1.67
    assert measures.score(measures.BUILTIN["LEFS"], [4] * 20)[0] == 80
    assert measures.score(measures.BUILTIN["LEFS"], [0] * 19 + [3])[0] == 3


@pytest.mark.parametrize(
    ("code", "values", "labels", "message"),
    [
        ("NPRS", ["11"], None, "NPRS, Pain now .*: enter a whole number from 0 to 10"),
        ("NPRS", ["-1"], None, "from 0 to 10"),
        ("NPRS", ["seven"], None, "from 0 to 10"),
        ("PSFS", [3, 4], ["Stairs", "Kneeling"], "PSFS needs 3 to 5 item"),
        ("PSFS", [3, 4, 5, 6, 7, 8], list("abcdef"), "PSFS needs 3 to 5 item"),
        ("PSFS", [3, 4, 5], ["Stairs", "", "Run"], "name activity 2"),
        ("LEFS", [2] * 19, None, "LEFS needs 20 item"),
        ("LEFS", [2] * 19 + [5], None, "LEFS, Item 20: enter a whole number from 0 to 4"),
    ],
)
def test_bad_scores_name_the_item_at_fault(code, values, labels, message):
    with pytest.raises(InvalidInput, match=message):
        measures.score(measures.BUILTIN[code], values, labels)


def test_a_score_is_stored_with_the_visit_and_replaced_while_a_draft(session, clinic):
    _, note = charted_note(session, clinic)
    measures.record(session, actor=clinic.clinician, note_id=note.id, code="nprs", values=["6"])
    measures.record(session, actor=clinic.clinician, note_id=note.id, code="NPRS", values=["5"])
    rows = measures.results(session, note_id=note.id)
    assert [(r.measure_code, r.score, json.loads(r.item_values)) for r in rows] == [("NPRS", 5.0, [5])]
    with pytest.raises(NotAllowed):
        measures.record(session, actor=clinic.clinician2, note_id=note.id, code="NPRS", values=["1"])
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    with pytest.raises(NoteAlreadySigned):
        measures.record(session, actor=clinic.clinician, note_id=note.id, code="NPRS", values=["2"])
    session.expire_all()
    assert session.exec(select(MeasureResult)).one().score == 5.0


def _visit_with(session, clinic, hhmm, code, values, labels=None):
    _, note = charted_note(session, clinic, hhmm)
    measures.record(session, actor=clinic.clinician, note_id=note.id, code=code, values=values, labels=labels)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    return note


def test_the_trend_says_when_a_change_is_clinically_important(session, clinic):
    _visit_with(session, clinic, "08:00", "NPRS", [7])
    _visit_with(session, clinic, "10:00", "NPRS", [6])
    last = _visit_with(session, clinic, "12:00", "NPRS", [4])
    points = measures.trend(session, actor=clinic.clinician, note_id=last.id, code="NPRS")
    assert [(p.score, p.change, p.words) for p in points] == [
        (7, 0, "No change since the first score."),
        (6, -1, "Improved by 1 point since the first score, below the MCID of 2: not clinically important yet."),
        (4, -3, "Improved by 3 points since the first score, above the MCID of 2: clinically important."),
    ]
    with pytest.raises(NotAllowed):
        measures.trend(session, actor=clinic.clinician2, note_id=last.id, code="NPRS")


def test_lefs_worsening_is_said_to_be_worse(session, clinic):
    _visit_with(session, clinic, "08:00", "LEFS", [3] * 20)  # 60
    last = _visit_with(session, clinic, "10:00", "LEFS", [3] * 10 + [2] * 10)  # 50
    assert measures.trend(session, actor=clinic.clinician, note_id=last.id, code="LEFS")[-1].words == (
        "Worse by 10 points since the first score, above the MCID of 9: clinically important."
    )


def test_a_clinic_defines_its_own_measure(session, clinic):
    measures.define_measure(
        session, actor=clinic.admin, code="grip", name="Grip questionnaire", items=["Jar lids", "Keys", "", "Writing"],
        item_min=0, item_max=5, scoring="mean", mcid=1.5,
    )
    defn = measures.definition(session, "GRIP")
    assert (defn.items, defn.min_items, defn.mcid) == (("Jar lids", "Keys", "Writing"), 3, 1.5)
    assert [d.code for d in measures.definitions(session)] == ["NPRS", "PSFS", "LEFS", "GRIP"]
    first = _visit_with(session, clinic, "08:00", "GRIP", [1, 2, 3])
    assert measures.results(session, note_id=first.id)[0].score == 2.0
    with pytest.raises(InvalidInput, match="GRIP, Keys: enter a whole number from 0 to 5"):
        measures.score(defn, [1, 9, 3])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"code": "NPRS"}, "built in already"),
        ({"code": "x"}, "2-16 capital letters"),
        ({"items": ["", " "]}, "from 1 to 100 items"),
        ({"scoring": "median"}, "sum or the mean"),
        ({"item_min": 5, "item_max": 5}, "lowest item score must be below"),
        ({"mcid": 0}, "above 0"),
        ({"mcid": 10}, r"MCID \(10\) must be smaller than the whole score range \(0 to 10\)"),
        ({"scoring": "percent", "mcid": 100}, r"whole score range \(0 to 100\)"),
        ({"name": " "}, "Give the measure a name"),
    ],
)
def test_bad_measure_definitions_are_refused(session, clinic, fields, message):
    good = {"code": "ODI", "name": "Back index", "items": ["One", "Two"], "item_min": 0, "item_max": 5, "scoring": "sum", "mcid": 4}
    with pytest.raises(InvalidInput, match=message):
        measures.define_measure(session, actor=clinic.admin, **{**good, **fields})
    assert [d.code for d in measures.definitions(session)] == ["NPRS", "PSFS", "LEFS"]


def test_only_admins_define_measures(session, clinic):
    with pytest.raises(NotAllowed):
        measures.define_measure(session, actor=clinic.clinician, code="ODI", name="x", items=["a"], item_min=0, item_max=5,
                                scoring="sum", mcid=10)


def test_a_percent_measure_is_scored_on_the_chart_and_can_be_retired(session, clinic):
    # An Oswestry-style index: 4 items scored 0-5, shown as a percent of the highest total; lower is better.
    measures.define_measure(
        session, actor=clinic.admin, code="BDI", name="Back disability index", items=["Pain", "Sitting", "Standing", "Sleep"],
        item_min=0, item_max=5, scoring="percent", mcid=10, higher_is_better=False,
    )
    defn = measures.definition(session, "BDI")
    assert defn.scoring_words == "percent of the highest possible total, 0 to 100, lower is better"
    _visit_with(session, clinic, "08:00", "BDI", [4, 3, 3, 2])  # 12 of 20 = 60 %
    last = _visit_with(session, clinic, "10:00", "BDI", [2, 2, 1, 1])  # 6 of 20 = 30 %
    assert [r.score for r in measures.results(session, note_id=last.id)] == [30.0]
    # Retired: no longer offered or recorded, but the scores already taken are still shown with their trend.
    measures.set_active(session, actor=clinic.admin, code="bdi", active=False)
    assert "BDI" not in [d.code for d in measures.definitions(session)]
    assert [(d.code, d.active) for d in measures.clinic_measures(session, actor=clinic.admin)] == [("BDI", False)]
    _, note = charted_note(session, clinic, "12:00")
    with pytest.raises(InvalidInput, match="BDI is retired"):
        measures.record(session, actor=clinic.clinician, note_id=note.id, code="BDI", values=[1, 1, 1, 1])
    assert measures.trend(session, actor=clinic.clinician, note_id=last.id, code="BDI")[-1].words == (
        "Improved by 30 points since the first score, above the MCID of 10: clinically important."
    )
    measures.set_active(session, actor=clinic.admin, code="BDI", active=True)
    assert "BDI" in [d.code for d in measures.definitions(session)]
    with pytest.raises(InvalidInput, match="built-in ones cannot be retired"):
        measures.set_active(session, actor=clinic.admin, code="NPRS", active=False)
    with pytest.raises(NotAllowed):
        measures.set_active(session, actor=clinic.clinician, code="BDI", active=False)
