"""Outcome measures: scoring, storing per visit, clinic-defined measures, and the trend."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from clinic_app.models import MeasureResult
from clinic_app.services import charting, measures
from clinic_app.services.errors import InvalidInput, NotAllowed, NoteAlreadySigned
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
        (6, -1, "Better by 1 point(s) since the first score: below the clinically important change of 2."),
        (4, -3, "Better by 3 point(s) since the first score: clinically important (MCID 2)."),
    ]
    with pytest.raises(NotAllowed):
        measures.trend(session, actor=clinic.clinician2, note_id=last.id, code="NPRS")


def test_lefs_worsening_is_said_to_be_worse(session, clinic):
    _visit_with(session, clinic, "08:00", "LEFS", [3] * 20)  # 60
    last = _visit_with(session, clinic, "10:00", "LEFS", [3] * 10 + [2] * 10)  # 50
    assert measures.trend(session, actor=clinic.clinician, note_id=last.id, code="LEFS")[-1].words == (
        "Worse by 10 point(s) since the first score: clinically important (MCID 9)."
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
    ],
)
def test_bad_measure_definitions_are_refused(session, clinic, fields, message):
    good = {"code": "ODI", "name": "Back index", "items": ["One", "Two"], "item_min": 0, "item_max": 5, "scoring": "sum", "mcid": 10}
    with pytest.raises(InvalidInput, match=message):
        measures.define_measure(session, actor=clinic.admin, **{**good, **fields})
    assert [d.code for d in measures.definitions(session)] == ["NPRS", "PSFS", "LEFS"]


def test_only_admins_define_measures(session, clinic):
    with pytest.raises(NotAllowed):
        measures.define_measure(session, actor=clinic.clinician, code="ODI", name="x", items=["a"], item_min=0, item_max=5,
                                scoring="sum", mcid=10)
