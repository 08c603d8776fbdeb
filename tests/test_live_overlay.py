"""The boards' shared live overlay (live/overlay.py): every change of a visit in view is kept
as its newest row, stamped; a board's load stamp separates what its cards include from what
was pushed after; a week board gets the newest row of a visit that moved between its days."""

from __future__ import annotations

import re
from pathlib import Path

from clinic_app.components import board_grid
from clinic_app.live.events import board_topic
from clinic_app.live.overlay import BoardOverlays, live_key
from clinic_app.services.frontdesk import board, scheduling
from tests.conftest import DAY, at
from tests.services.helpers import book, now_at


def _row(session, appointment_id: int) -> dict:
    return board.client_row(board.card(session, appointment_id=appointment_id))


def test_every_change_is_kept_as_the_visits_newest_row_stamped_after_a_boards_load(session, clinic):
    first, second = (book(session, clinic, hhmm, patient=i) for i, hhmm in enumerate(("09:00", "10:00")))
    overlays = BoardOverlays()
    topic = board_topic(clinic.location.id, DAY.isoformat())
    loaded = overlays.stamp()  # a board reads its cards after this stamp

    scheduling.transition(session, actor=clinic.reception, appointment_id=first.id, to_status="arrived", now=now_at("08:55"))
    checked_in = overlays.record(topic, _row(session, first.id))
    scheduling.reschedule(session, actor=clinic.reception, appointment_id=second.id, starts_at=at("12:00"),
                          now=now_at("08:00"))
    moved = overlays.record(topic, _row(session, second.id))
    assert loaded < checked_in["seq"] < moved["seq"]
    assert (checked_in["status"], moved["start_label"]) == ("arrived", "12:00")
    held = overlays.union([topic])
    assert held == {live_key(first.id): checked_in, live_key(second.id): moved}
    # A board loading now takes a later stamp: both changes are in its cards already.
    assert overlays.stamp() > moved["seq"]
    # Only the newest row of a visit is kept.
    scheduling.transition(session, actor=clinic.clinician, appointment_id=first.id, to_status="in_session",
                          now=now_at("09:01"))
    overlays.record(topic, _row(session, first.id))
    assert overlays.union([topic])[live_key(first.id)]["status"] == "in_session"
    assert overlays.size(topic) == 2
    # The same row again (one move published for two providers' lists of one day): nothing to send.
    assert overlays.record(topic, _row(session, first.id)) is None
    overlays.drop(topic)
    assert overlays.union([topic]) == {}


def test_a_week_board_gets_the_newest_row_of_a_visit_moved_between_its_days():
    overlays = BoardOverlays()
    monday, tuesday = board_topic(1, "2030-03-11"), board_topic(1, "2030-03-12")
    row = dict.fromkeys(board.CARD_FIELDS, 0) | {"id": 1}
    overlays.record(tuesday, row | {"day": "2030-03-12", "status": "arrived"})
    # The move is published to the day it left and to the day it went to.
    moved = row | {"day": "2030-03-11", "status": "booked"}
    overlays.record(tuesday, moved)
    overlays.record(monday, moved)
    overlays.record(monday, moved | {"status": "arrived"})
    # Tuesday still holds the move's row; the week shows Monday's newer one.
    assert overlays.union([tuesday, monday])[live_key(1)]["status"] == "arrived"
    assert overlays.union([tuesday])[live_key(1)]["day"] == "2030-03-11"  # a Tuesday board drops it


def test_the_browser_reads_only_what_a_pushed_row_carries():
    # A field the layout reads that the row does not carry would be missing after a push.
    source = (Path(board_grid.__file__).parent / "board_layout.js").read_text()
    read = set(re.findall(r"\br\.(\w+)", source))
    assert read, "the layout reads no row field: the pattern no longer matches it"
    assert read <= {*board.CARD_FIELDS, "seq"}, read - {*board.CARD_FIELDS, "seq"}
