"""The board's layout in the browser (components/board_layout.js), run by bun: loaded rows and
pushed rows merged by their stamps, cards placed in this board's columns and filters, a
cancelled visit beside the booking that took its slot, free cells around them."""

from __future__ import annotations

import json
import subprocess

import pytest

from clinic_app.services.frontdesk.board import CARD_FIELDS
from clinic_app.settings import PROJECT_ROOT

BUN = PROJECT_ROOT / "tools" / "bun" / "bin" / "bun"
MODULE = PROJECT_ROOT / "clinic_app" / "components" / "board_layout.js"
DAY = "2030-03-12"
COLUMNS = [
    {"provider_id": 1, "day": DAY, "name": "Ann Able, PT", "slot_prefix": "", "grid_column": "2", "earliest": 420},
    {"provider_id": 2, "day": DAY, "name": "Bo Baker, PT", "slot_prefix": "", "grid_column": "3", "earliest": 600},
]


def _row(id_, provider, start, end, status="booked", room=0, **extra) -> dict:
    row = dict.fromkeys(CARD_FIELDS, "")
    row.update(id=id_, patient_id=id_, patient_name=f"Patient{id_}, Pat", type_name="Treatment", color="blue",
               provider_id=provider, day=DAY, start_minute=start, end_minute=end,
               start_label=f"{start // 60:02d}:{start % 60:02d}", end_label=f"{end // 60:02d}:{end % 60:02d}",
               status=status, status_label=status.title(), room_id=room, room_name="", auth_warning="", in_series=False)
    row.update(extra)
    return row


def layout(rows, live=(), *, since=100, room="", show_released=True, shades=()) -> dict:
    if not BUN.exists():
        pytest.fail(f"bun is missing at {BUN}: run `make install`")
    state = {f"live:{r['id']}": r for r in live} | {"rows_rx_state_": []}
    args = [rows, state, since, COLUMNS, list(shades), room, show_released, DAY]
    script = (f"import {{ clinicBoardLayout }} from {json.dumps(str(MODULE))};\n"
              f"console.log(JSON.stringify(clinicBoardLayout(...{json.dumps(args)})));\n")
    done = subprocess.run([str(BUN), "-e", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _places(out) -> dict[int, tuple]:
    return {c["id"]: (c["grid_column"], c["grid_row"], c["left"], c["status"]) for c in out["cards"]}


def test_a_pushed_row_newer_than_the_load_replaces_the_loaded_one():
    rows = [_row(1, 1, 540, 570), _row(2, 1, 600, 630)]
    moved = _row(1, 2, 660, 690) | {"seq": 101}
    stale = _row(2, 1, 480, 510) | {"seq": 99}  # pushed before this board loaded: its cards include it
    out = layout(rows, [moved, stale])
    assert _places(out) == {1: ("3", "18 / span 2", "0%", "booked"), 2: ("2", "14 / span 2", "0%", "booked")}
    assert out["newest"]["1"]["provider_id"] == 2
    # A visit moved to a day (or provider) this board does not show leaves it.
    away = _row(2, 9, 600, 630) | {"seq": 102}
    assert 2 not in _places(layout(rows, [moved, away]))


def test_a_cancelled_visit_sits_beside_the_booking_that_took_its_slot():
    rows = [_row(1, 1, 900, 930, status="cancelled"), _row(2, 1, 900, 930)]
    out = layout(rows)
    cards = {c["id"]: c for c in out["cards"]}
    assert (cards[2]["left"], cards[2]["width"]) == ("0%", "calc(62% - 4px)")
    assert (cards[1]["left"], cards[1]["width"]) == ("62%", "calc(38% - 4px)")
    assert cards[1]["released"] and not cards[2]["released"]
    assert cards[1]["aria"] == "Patient1, Pat, 15:00, Cancelled"
    assert [c["id"] for c in layout(rows, show_released=False)["cards"]] == [2]


def test_free_cells_skip_cards_shades_and_the_past_but_not_a_cancelled_visit():
    rows = [_row(1, 1, 420, 450), _row(2, 1, 480, 495, status="cancelled")]
    shade = {"grid_column": "2", "first": 6, "last": 8}  # 08:00-08:30 not working
    out = layout(rows, shades=[shade])
    ann = [s["time"] for s in out["slots"] if s["provider_id"] == 1][:6]
    assert ann == ["07:30", "07:45", "08:30", "08:45", "09:00", "09:15"]
    bo = [s for s in out["slots"] if s["provider_id"] == 2]
    assert bo[0]["time"] == "10:00" and bo[0]["label"] == "Book 10:00 with Bo Baker, PT"  # 10:00 is now there
    # A pushed check-in of the cancelled visit's neighbour does not free its cells.
    arrived = _row(1, 1, 420, 450, status="arrived") | {"seq": 105}
    assert "07:00" not in [s["time"] for s in layout(rows, [arrived], shades=[shade])["slots"] if s["provider_id"] == 1]


def test_the_room_filter_keeps_only_that_rooms_cards():
    rows = [_row(1, 1, 540, 570, room=5), _row(2, 2, 660, 690, room=6)]
    assert [c["id"] for c in layout(rows, room="6")["cards"]] == [2]
