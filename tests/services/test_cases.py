"""Episodes of care: visits past the authorised count or dates are flagged on the board."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.models import Appointment, CaseVisit
from clinic_app.services.frontdesk import board, cases, scheduling
from clinic_app.services.platform.errors import InvalidInput, NotAllowed
from tests.conftest import DAY, at
from tests.services.helpers import now_at


def _book(session, clinic, day, case, patient=0):
    return scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[patient].id, provider_id=clinic.providers[0].id,
        appointment_type_id=clinic.treatment.id, starts_at=at("09:00", day), case_id=case.id if case else None,
        now=now_at("07:00"),
    )


def test_visits_past_the_authorisation_are_flagged(session, clinic):
    case = cases.open_case(
        session, actor=clinic.reception, patient_id=clinic.patients[0].id, title="Left knee, post-op",
        diagnosis_code="m25.561", payer_name="Acme Health", authorized_visits=2,
        auth_start=DAY, auth_end=DAY + dt.timedelta(days=20),
    )
    assert case.diagnosis_code == "M25.561"
    first = _book(session, clinic, DAY, case)
    second = _book(session, clinic, DAY + dt.timedelta(days=1), case)
    third = _book(session, clinic, DAY + dt.timedelta(days=2), case)
    assert cases.authorization_warnings(session, appointment_ids=[first.id, second.id, third.id]) == {
        third.id: "Visit 3 of 2 authorised",
    }
    assert board.card(session, appointment_id=third.id)["auth_warning"] == "Visit 3 of 2 authorised"
    # A cancelled visit does not count: the third becomes the second.
    scheduling.transition(session, actor=clinic.reception, appointment_id=first.id, to_status="cancelled", now=now_at("07:00"))
    assert cases.authorization_warnings(session, appointment_ids=[third.id]) == {}
    assert cases.used_visits(session, case_id=case.id) == 2


def test_visits_after_the_authorisation_ends_are_flagged_on_the_board(session, clinic):
    case = cases.open_case(session, actor=clinic.reception, patient_id=clinic.patients[0].id, title="Neck",
                           auth_start=DAY - dt.timedelta(days=30), auth_end=DAY - dt.timedelta(days=1))
    late = _book(session, clinic, DAY, case)
    view = board.board_day(session, actor=clinic.reception, location_id=clinic.location.id, day=DAY)
    assert {c["id"]: c["auth_warning"] for c in view.cards} == {late.id: "After the authorisation ended 2030-03-11"}


def test_an_episode_of_another_patient_is_refused_and_nothing_is_booked(session, clinic):
    case = cases.open_case(session, actor=clinic.reception, patient_id=clinic.patients[1].id, title="Back")
    with pytest.raises(InvalidInput, match="patient's open episodes"):
        _book(session, clinic, DAY, case, patient=0)
    assert session.exec(select(Appointment)).all() == []
    assert session.exec(select(CaseVisit)).all() == []


def test_episode_input_is_checked(session, clinic):
    with pytest.raises(InvalidInput, match="end on or after"):
        cases.open_case(session, actor=clinic.reception, patient_id=clinic.patients[0].id, title="Hip",
                        auth_start=DAY, auth_end=DAY - dt.timedelta(days=1))
    with pytest.raises(InvalidInput, match="Give the episode a title"):
        cases.open_case(session, actor=clinic.reception, patient_id=clinic.patients[0].id, title=" ")
    with pytest.raises(NotAllowed):
        cases.open_case(session, actor=clinic.biller, patient_id=clinic.patients[0].id, title="Hip")
