"""The board's grid: time rows, a column per provider (and day, in the week), the cards and
the free cells, placed in the browser (board_layout.js) from the loaded rows and the live
ones; drag and the current-time line come from assets/clinic-board.js."""

from __future__ import annotations

import reflex as rx
from reflex.vars import FunctionStringVar, VarData
from reflex_base.utils.format import format_state_name
from reflex_base.utils.imports import ImportVar

from clinic_app.components.status_badge import status_badge
from clinic_app.state.booking import BookingSection
from clinic_app.state.calendar import DAY_END, DAY_START, HEAD_PX, ROW_PX, SLOT, CalendarState, Card, Slot
from clinic_app.state.move import MoveSection

C = CalendarState
ROWS = (DAY_END - DAY_START) // SLOT
# The drag script, a file (/clinic-board.js): the Content-Security-Policy runs no inline script
# a page adds after it loads.
BOARD_JS = "/clinic-board.js"
# board_layout.js, an ES module the page imports (a shared asset: linked into assets/external).
LAYOUT_MODULE = rx.asset("board_layout.js", shared=True).importable_path


def _imported(name: str) -> FunctionStringVar:
    return FunctionStringVar.create(name, _var_data=VarData(imports={LAYOUT_MODULE: [ImportVar(tag=name)]}))


def _state_object() -> rx.Var:
    """The board's state object in the browser (its pushed ``live:<id>`` rows are keys of it)."""
    return rx.Var(_js_expr=format_state_name(C.get_full_name()), _var_type=dict, _var_data=VarData.from_state(C))


def layout() -> rx.Var:
    """{cards, slots, newest}: the board laid out in the browser."""
    return _imported("clinicBoardLayout").call(
        C.rows, _state_object(), C.live_since, C.columns, C.shades, C.filter_room_id, C.show_released, C.today,
    ).to(dict)


def newest(appointment_id, fallback) -> rx.Var:
    """The newest row of a visit the board knows (pushed, or loaded), else ``fallback``."""
    return _imported("clinicNewestRow").call(layout(), appointment_id, fallback).to(dict)


def _card(card: Card) -> rx.Component:
    # The card's text reads as its accessible name does ("Quill, Zed, 11:00, Booked", then any
    # risk): what else it shows (end time, type, room) comes from CSS, so the visible label is
    # part of the name (WCAG 2.5.3) and screen readers hear each thing once.
    badge = status_badge(card.status, card.status_label, size="1")
    return rx.el.button(
        rx.el.div(
            rx.el.div(
                rx.el.span(card.patient_name, class_name="board-card-name"),
                " ",  # words apart for whoever reads the text, not only the eye
                rx.cond(card.short, rx.el.span(card.start_label, class_name="board-card-start")),
                " ",
                rx.cond(card.short, badge),
                class_name="board-card-top",
            ),
            " ",
            rx.cond(
                ~card.short,
                rx.el.div(
                    rx.el.span(card.start_label, class_name="board-card-time", data_end="-" + card.end_label),
                    " ",
                    badge,
                    class_name="board-card-meta",
                ),
            ),
            " ",
            rx.cond(card.auth_warning != "", rx.el.div("At risk: ", card.auth_warning, class_name="board-card-risk")),
            rx.cond((card.online != "") & ~card.short, rx.el.div(card.online, class_name="board-card-online")),
            rx.cond(
                ~card.short,
                rx.el.div(class_name="board-card-detail",
                          data_detail=card.type_name + rx.cond(card.room_name != "", " · " + card.room_name, "")),
            ),
            class_name="board-card-body",
        ),
        rx.cond(card.movable & C.can_book, rx.el.div(class_name="board-card-resize", aria_hidden="true")),
        on_click=C.select(card.id),
        aria_label=card.aria,
        title=card.title,
        class_name=rx.cond(card.released, "board-card is-released", "board-card")
        + rx.cond(card.short, " short", "") + rx.cond(MoveSection.refused_id == card.id, " is-refused", ""),
        data_appointment=card.id,
        data_movable=rx.cond(card.movable & C.can_book, "true", "false"),
        data_column=card.provider_id.to(str) + "|" + card.day,
        data_start=card.start_minute,
        data_length=card.duration,
        style={
            "gridColumn": card.grid_column,
            "gridRow": card.grid_row,
            "marginLeft": card.left,
            "width": card.width,
            "borderLeftColor": "var(--" + card.color + "-9)",
        },
    )


def _refusal() -> rx.Component:
    """A refused drag's reason, under the card that was dragged (which stayed where it was)."""
    spot = _imported("clinicCardOf").call(layout(), MoveSection.refused_id).to(dict)
    return rx.cond(
        MoveSection.refused_id != 0,
        rx.el.div(
            rx.el.span(MoveSection.refused_text),
            rx.el.button("Dismiss", on_click=MoveSection.dismiss_refusal, class_name="board-refusal-dismiss"),
            role="alert",
            class_name="board-card-refusal",
            style={"gridColumn": spot["grid_column"].to(str), "gridRow": spot["grid_row"].to(str),
                   "marginLeft": spot["left"].to(str)},
        ),
    )


def _slot(slot: Slot) -> rx.Component:
    return rx.el.button(
        on_click=BookingSection.open(slot.provider_id, slot.time, slot.day),
        aria_label=slot.label,
        title=slot.label,
        class_name="board-slot",
        style={"gridColumn": slot.grid_column, "gridRow": slot.grid_row},
    )


def _shade(shade) -> rx.Component:
    return rx.box(
        rx.el.span(shade.label, class_name="board-shade-label"),
        class_name="board-shade",
        style={"gridColumn": shade.grid_column, "gridRow": shade.grid_row},
    )


def _now_line() -> rx.Component:
    return rx.cond(
        C.now_columns != "",
        rx.box(
            rx.box(class_name="board-now-line", style={"top": C.now_top.to(str) + "px"}),
            rx.el.span("Now", class_name="board-now-label", style={"top": (C.now_top - 9).to(str) + "px"}),
            class_name="board-now",
            data_offset=C.utc_offset,
            data_testid="now-line",
            aria_hidden="true",
            style={"gridColumn": C.now_columns, "gridRow": f"2 / {ROWS + 2}"},
        ),
    )


def board_grid() -> rx.Component:
    placed = layout()
    return rx.box(
        rx.box(
            rx.box("Time", class_name="board-head board-corner", style={"gridColumn": "1", "gridRow": "1"}),
            rx.foreach(
                C.columns,
                lambda c: rx.box(
                    rx.cond(c.sub != "", rx.el.div(c.sub, class_name="board-head-day")),
                    rx.el.div(c.name, class_name="board-head-name"),
                    class_name=rx.cond(c.group_start, "board-head group-start", "board-head"),
                    data_col_key=c.key,
                    data_col_name=c.name,
                    style={"gridColumn": c.grid_column, "gridRow": "1"},
                ),
            ),
            rx.foreach(
                C.columns,
                lambda c: rx.box(class_name=rx.cond(c.group_start, "board-col group-start", "board-col"),
                                 style={"gridColumn": c.grid_column, "gridRow": f"2 / {ROWS + 2}"}),
            ),
            rx.foreach(
                C.hours,
                lambda h: rx.box(h.label, class_name="board-hour", style={"gridColumn": "1", "gridRow": h.grid_row}),
            ),
            rx.foreach(C.shades, _shade),
            rx.cond(C.can_book, rx.foreach(placed["slots"].to(list[Slot]), _slot)),
            rx.foreach(placed["cards"].to(list[Card]), _card),
            _refusal(),
            _now_line(),
            class_name="board-grid",
            data_view=C.location_id + "|" + C.day + "|" + C.view,
            data_row_px=ROW_PX,
            data_head_px=HEAD_PX,
            data_day_start=DAY_START,
            data_day_end=DAY_END,
            style={"gridTemplateColumns": C.grid_columns, "gridTemplateRows": f"{HEAD_PX}px repeat({ROWS}, {ROW_PX}px)"},
        ),
        class_name="board-scroll",
        role="region",
        aria_label="Appointments by provider and time",
        tab_index=0,
    )


def board_scripts() -> rx.Component:
    """The drop channel (one hidden input the drag script fills) and the script itself."""
    return rx.fragment(
        rx.el.input(id="board-drop", on_change=MoveSection.drop, aria_hidden="true", tab_index=-1,
                    style={"display": "none"}),
        rx.script(src=BOARD_JS),
    )
