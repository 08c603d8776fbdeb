"""The boards' shared live overlay (live/overlay.py): which changes it carries alone, and
that what it holds is always the newest status, so no board ever shows an older one."""

from __future__ import annotations

import dataclasses

from clinic_app.live.events import board_topic
from clinic_app.live.overlay import PLACEMENT, BoardOverlays
from clinic_app.services import board, scheduling
from clinic_app.state.calendar import Card
from tests.conftest import DAY, at
from tests.services.helpers import book, now_at


def _seeded(session, clinic, overlays: BoardOverlays) -> str:
    topic = board_topic(clinic.location.id, DAY.isoformat())
    view = board.board_day(session, actor=clinic.reception, location_id=clinic.location.id, day=DAY)
    overlays.seed(topic, view.cards)
    return topic


def _card(session, appointment_id: int) -> dict:
    return board.card(session, appointment_id=appointment_id)


def test_a_check_in_goes_to_the_shared_overlay_a_move_or_a_cancellation_to_each_board(session, clinic):
    first, second, third = (book(session, clinic, hhmm, patient=i) for i, hhmm in enumerate(("09:00", "10:00", "11:00")))
    overlays = BoardOverlays()
    topic = _seeded(session, clinic, overlays)

    scheduling.transition(session, actor=clinic.reception, appointment_id=first.id, to_status="arrived", now=now_at("08:55"))
    assert overlays.observe(topic, _card(session, first.id)) is True
    assert overlays.union([topic]) == ({str(first.id): "arrived"}, {str(first.id): "Arrived"})

    # A move changes where the card sits: every board must place it again.
    scheduling.reschedule(session, actor=clinic.reception, appointment_id=second.id, starts_at=at("12:00"), now=now_at("08:00"))
    assert overlays.observe(topic, _card(session, second.id)) is False
    # Cancelling frees the slot: each board recomputes its free slots.
    scheduling.transition(session, actor=clinic.reception, appointment_id=third.id, to_status="cancelled", reason="Unwell", now=now_at("08:00"))
    assert overlays.observe(topic, _card(session, third.id)) is False
    # A card this worker never saw (booked before any board here loaded it) goes to each board too.
    late = book(session, clinic, "14:00", patient=0)
    scheduling.transition(session, actor=clinic.reception, appointment_id=late.id, to_status="arrived", now=now_at("08:55"))
    assert overlays.observe(topic, _card(session, late.id)) is False
    # ...and once seen, its next status change is in place.
    scheduling.transition(session, actor=clinic.clinician, appointment_id=late.id, to_status="in_session", now=now_at("14:00"))
    assert overlays.observe(topic, _card(session, late.id)) is True


def test_the_overlay_keeps_the_newest_status_of_every_change_so_no_board_reverts(session, clinic):
    appt = book(session, clinic, "09:00")
    overlays = BoardOverlays()
    topic = _seeded(session, clinic, overlays)
    # A move goes the per-board way (each board places the card again)...
    scheduling.reschedule(session, actor=clinic.reception, appointment_id=appt.id, starts_at=at("09:30"), now=now_at("08:50"))
    assert overlays.observe(topic, _card(session, appt.id)) is False
    # ...and the overlay learns the new place and status from it: the next changes are in place.
    scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=now_at("09:25"))
    assert overlays.observe(topic, _card(session, appt.id)) is True
    scheduling.transition(session, actor=clinic.clinician, appointment_id=appt.id, to_status="in_session", now=now_at("09:31"))
    assert overlays.observe(topic, _card(session, appt.id)) is True
    assert overlays.union([topic])[0] == {str(appt.id): "in_session"}
    # A board loading after these changes does not make the overlay forget them.
    _seeded(session, clinic, overlays)
    assert overlays.union([topic])[0] == {str(appt.id): "in_session"}


def test_a_full_overlay_is_emptied_for_the_boards_to_fold_in_and_a_week_board_sees_every_day(session, clinic):
    overlays = BoardOverlays(limit=2)
    monday, tuesday = board_topic(1, "2030-03-11"), board_topic(1, "2030-03-12")
    row = dict.fromkeys(PLACEMENT, 0) | {"status_label": "Arrived"}
    overlays.seed(tuesday, [row | {"id": 1, "status": "booked"}, row | {"id": 2, "status": "booked"}])
    assert overlays.observe(tuesday, row | {"id": 1, "status": "arrived"})
    assert not overlays.full(tuesday)
    overlays.observe(tuesday, row | {"id": 2, "status": "arrived"})
    overlays.observe(monday, row | {"id": 9, "status": "arrived"})
    assert overlays.union([monday, tuesday])[0] == {"1": "arrived", "2": "arrived", "9": "arrived"}
    assert overlays.full(tuesday)
    assert overlays.fold(tuesday) == {"1": ("arrived", "Arrived"), "2": ("arrived", "Arrived")}
    assert overlays.union([monday, tuesday])[0] == {"9": "arrived"}
    # Where the cards sit is still known after the fold: the next check-in is in place again.
    assert overlays.observe(tuesday, row | {"id": 1, "status": "in_session"})
    overlays.drop(tuesday)
    assert overlays.union([tuesday]) == ({}, {})


def test_a_card_moved_to_an_earlier_day_shows_its_newest_status_on_a_week_board():
    overlays = BoardOverlays()
    monday, tuesday = board_topic(1, "2030-03-11"), board_topic(1, "2030-03-12")
    row = dict.fromkeys(PLACEMENT, 0) | {"id": 1, "status_label": "-"}
    overlays.seed(tuesday, [row | {"day": "2030-03-12", "status": "booked"}])
    assert overlays.observe(tuesday, row | {"day": "2030-03-12", "status": "arrived"})
    # The move is published to the day it left and to the day it went to.
    moved = row | {"day": "2030-03-11", "status": "arrived"}
    assert not overlays.observe(tuesday, moved)
    assert not overlays.observe(monday, moved)
    assert overlays.observe(monday, moved | {"status": "in_session"})
    # Tuesday holds no older status for the visit that a week board would show over Monday's.
    assert overlays.union([monday, tuesday])[0] == {"1": "in_session"}
    # The same holds for a desk's own change, noted before the bus brings it back.
    overlays.note_status(monday, moved | {"status": "checked_out"})
    assert overlays.union([tuesday, monday])[0] == {"1": "checked_out"}


def test_everything_a_board_card_shows_besides_its_status_is_part_of_its_place():
    # A new field on the card that the overlay did not compare would never reach a board
    # after a change that touched only that field.
    derived = {"id", "key", "status", "status_label", "grid_column", "grid_row", "released"}
    from_row = {f.name for f in dataclasses.fields(Card)} - derived
    assert from_row <= set(PLACEMENT)
