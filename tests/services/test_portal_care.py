"""The portal's My care on both databases: the patient's own visits, home exercises and their
PDF, outcome measures asked at home (assigned in the chart, answered in the portal, scored by
the measure's own rules, in the chart's trend as reported by the patient), and scoping:
another patient's ids get nothing from any of these functions. The services never commit."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from clinic_app.models import AuditLog, HomeMeasure
from clinic_app.services.charting import charting, history, measures
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound
from clinic_app.services.portal import accounts, care
from clinic_app.services.portal.accounts import Me
from tests.conftest import DAY, at
from tests.services.helpers import book, charted_note

EVE = at("07:00", DAY - dt.timedelta(days=1))


def _account(session, clinic, patient=0) -> Me:
    p = clinic.patients[patient]
    invitation = accounts.invite(session, actor=clinic.reception, patient_id=p.id,
                                 email=f"{p.first_name.lower()}@example.com", now=EVE)
    account = accounts.accept_invitation(session, token=invitation.token, password="Sunny-day-2030", now=EVE)
    session.commit()
    return Me(account_id=account.id, patient_id=p.id)


@pytest.fixture
def cared(session, clinic):
    """Cara: a visit charted at 09:00 (NPRS 7), a visit booked at 15:00, two home exercises;
    Eli: a visit of his own at 11:00 and an exercise."""
    _, note = charted_note(session, clinic, "09:00")
    measures.record(session, actor=clinic.clinician, note_id=note.id, code="NPRS", values=["7"])
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    later = book(session, clinic, "15:00")
    book(session, clinic, "11:00", patient=1)
    cara = clinic.patients[0].id
    history.add_exercise(session, actor=clinic.clinician, patient_id=cara, name="Heel raises", dosage="3 x 10, twice a day",
                         instructions="Hold the back of a chair.")
    history.add_exercise(session, actor=clinic.clinician, patient_id=cara, name="Wall squats", dosage="2 x 8")
    history.add_exercise(session, actor=clinic.clinician, patient_id=clinic.patients[1].id, name="Eli's own stretch")
    session.commit()
    return {"note": note, "later": later, "cara": _account(session, clinic, 0), "eli": _account(session, clinic, 1)}


def test_my_care_shows_the_patients_own_visits_in_the_locations_zone_and_exercises(session, clinic, cared):
    upcoming, past = care.visits(session, cared["cara"], now=at("12:00"))
    assert [(v.when, v.what, v.who, v.status) for v in upcoming] == [
        ("Tue 12 Mar 2030, 15:00", "Treatment", "Ann Able, PT", "Booked")]
    assert [(v.when, v.status) for v in past] == [("Tue 12 Mar 2030, 09:00", "Attended")]
    assert [(e.name, e.dosage, e.instructions) for e in care.exercises(session, cared["cara"])] == [
        ("Heel raises", "3 x 10, twice a day", "Hold the back of a chair."), ("Wall squats", "2 x 8", "")]
    assert [e.name for e in care.exercises(session, cared["eli"])] == ["Eli's own stretch"]


def test_the_programme_pdf_is_the_charts_and_audited_as_the_patients_download(session, clinic, cared):
    data = care.programme_pdf(session, cared["cara"], today=DAY)
    session.commit()
    assert data.startswith(b"%PDF-") and len(data) > 800
    row = session.exec(select(AuditLog).where(AuditLog.action == "print")).one()
    assert row.patient_id == clinic.patients[0].id and "portal" in row.detail
    nobody = Me(account_id=0, patient_id=clinic.patients[2].id)
    with pytest.raises(InvalidInput, match="not given you home exercises"):
        care.programme_pdf(session, nobody, today=DAY)


def test_a_measure_asked_at_home_is_answered_scored_and_in_the_charts_trend(session, clinic, cared):
    cara = cared["cara"]
    asked = care.assign(session, actor=clinic.clinician, patient_id=clinic.patients[0].id, code="nprs", now=at("10:00"))
    session.commit()
    (waiting,) = care.asked_measures(session, cara)
    assert (waiting.code, waiting.status, [i.label for i in waiting.items]) == (
        "NPRS", "Waiting for your answers", ["Pain now (0 = no pain, 10 = worst imaginable)"])
    # The measure's own checks: nothing is kept from a bad answer.
    with pytest.raises(InvalidInput, match="whole number from 0 to 10"):
        care.answer(session, cara, home_measure_id=asked.id, values=["11"])
    session.rollback()
    care.answer(session, cara, home_measure_id=asked.id, values=["4"], now=at("13:00"))
    session.commit()
    session.expire_all()
    row = session.get(HomeMeasure, asked.id)
    assert (row.score, json.loads(row.item_values)) == (4.0, [4])
    (answered,) = care.asked_measures(session, cara)
    assert answered.status == "Answered on Tue 12 Mar 2030: score 4" and answered.items == ()
    with pytest.raises(InvalidInput, match="already answered"):
        care.answer(session, cara, home_measure_id=asked.id, values=["3"])
    session.rollback()
    # The chart's trend: the visit's 7, then the patient's 4, said to be theirs.
    points = measures.trend(session, actor=clinic.clinician, note_id=cared["note"].id, code="NPRS")
    assert [(p.score, p.by_patient) for p in points] == [(7, False), (4, True)]
    assert points[1].words.startswith("Reported by the patient at home. Improved by 3 points")
    shown = care.for_chart(session, actor=clinic.clinician, patient_id=clinic.patients[0].id, zone=clinic.location.timezone)
    assert [r.words for r in shown] == ["NPRS asked Tue 12 Mar 2030: reported by the patient on Tue 12 Mar 2030, score 4"]
    assert care.reported_codes(session, patient_id=clinic.patients[0].id) == ["NPRS"]


def test_psfs_at_home_takes_the_patients_activities(session, clinic, cared):
    asked = care.assign(session, actor=clinic.clinician, patient_id=clinic.patients[0].id, code="PSFS")
    session.commit()
    with pytest.raises(InvalidInput, match="name activity 2"):
        care.answer(session, cared["cara"], home_measure_id=asked.id, values=[3, 5, 4], labels=["Stairs", "", "Run"])
    session.rollback()
    row = care.answer(session, cared["cara"], home_measure_id=asked.id, values=[3, 5, 4, 6],
                      labels=["Stairs", "Kneeling", "Running", "Gardening"])
    session.commit()
    assert row.score == 4.5 and json.loads(row.item_labels) == ["Stairs", "Kneeling", "Running", "Gardening"]


def test_asking_is_the_patients_own_clinicians_once_per_measure_and_can_be_withdrawn(session, clinic, cared):
    cara = clinic.patients[0].id
    with pytest.raises(NotAllowed):
        care.assign(session, actor=clinic.reception, patient_id=cara, code="NPRS")
    session.rollback()
    with pytest.raises(NotAllowed, match="not one of yours"):
        care.assign(session, actor=clinic.clinician2, patient_id=cara, code="NPRS")
    session.rollback()
    with pytest.raises(InvalidInput, match="not one of the clinic's outcome measures"):
        care.assign(session, actor=clinic.clinician, patient_id=cara, code="NOPE")
    session.rollback()
    asked = care.assign(session, actor=clinic.clinician, patient_id=cara, code="LEFS")
    session.commit()
    with pytest.raises(InvalidInput, match="already waiting"):
        care.assign(session, actor=clinic.clinician, patient_id=cara, code="LEFS")
    session.rollback()
    care.withdraw(session, actor=clinic.clinician, home_measure_id=asked.id)
    session.commit()
    assert care.asked_measures(session, cared["cara"]) == []
    with pytest.raises(NotFound):
        care.answer(session, cared["cara"], home_measure_id=asked.id, values=[2] * 20)
    session.rollback()
    again = care.assign(session, actor=clinic.clinician, patient_id=cara, code="LEFS")
    care.answer(session, cared["cara"], home_measure_id=again.id, values=[2] * 20)
    session.commit()
    with pytest.raises(InvalidInput, match="answered it already"):
        care.withdraw(session, actor=clinic.clinician, home_measure_id=again.id)


def test_another_patients_ids_get_nothing(session, clinic, cared):
    asked = care.assign(session, actor=clinic.clinician, patient_id=clinic.patients[0].id, code="NPRS")
    session.commit()
    eli = cared["eli"]
    assert care.asked_measures(session, eli) == []
    upcoming, past = care.visits(session, eli, now=at("07:00"))
    assert [v.when for v in upcoming + past] == ["Tue 12 Mar 2030, 11:00"]
    assert "Heel raises" not in [e.name for e in care.exercises(session, eli)]
    for wanted in (asked.id, asked.id + 1000, "1", None):
        with pytest.raises(NotFound, match="not in your account"):
            care.answer(session, eli, home_measure_id=wanted, values=["2"])
        session.rollback()
    session.expire_all()
    assert session.get(HomeMeasure, asked.id).answered_at is None


def test_the_services_leave_the_transaction_to_the_caller(session, clinic, cared):
    asked = care.assign(session, actor=clinic.clinician, patient_id=clinic.patients[0].id, code="NPRS")
    session.commit()
    care.answer(session, cared["cara"], home_measure_id=asked.id, values=["3"])
    session.rollback()
    session.expire_all()
    assert session.get(HomeMeasure, asked.id).answered_at is None
    care.assign(session, actor=clinic.clinician, patient_id=clinic.patients[0].id, code="PSFS")
    session.rollback()
    assert len(session.exec(select(HomeMeasure)).all()) == 1


def test_the_database_keeps_an_answer_and_its_score_together(session, clinic, cared):
    row = HomeMeasure(patient_id=clinic.patients[0].id, measure_code="NPRS", assigned_by_user_id=clinic.clinician.user_id,
                      answered_at=at("10:00"))
    session.add(row)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
