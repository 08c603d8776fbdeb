"""A time of day typed as 24-hour HH:MM, the board's one time format (a browser's own time
input follows its locale: 01:30 PM in en-US, while the board says 13:30)."""

from __future__ import annotations

import reflex as rx

from clinic_app.services.frontdesk.board import BOARD_END, BOARD_START

TIME_HINT = "24-hour, e.g. 14:30"
TIMES_LIST = "board-times"


def time_field(field_id: str, label: str, value, on_change, *, hint: bool = True, width: str = "120px") -> rx.Component:
    """A labelled HH:MM field offering the board's quarter hours as suggestions."""
    return rx.vstack(
        rx.el.label(label, html_for=field_id),
        rx.input(id=field_id, value=value, on_change=on_change, placeholder="HH:MM", max_length=8, width=width,
                 list=TIMES_LIST, autocomplete="off",
                 aria_describedby=f"{field_id}-hint" if hint else None),
        rx.text(TIME_HINT, id=f"{field_id}-hint", size="1", color_scheme="gray") if hint else rx.fragment(),
        spacing="1",
    )


def times_list() -> rx.Component:
    """The suggestions every time field shares: the board's quarter hours."""
    return rx.el.datalist(
        *[rx.el.option(value=f"{m // 60:02d}:{m % 60:02d}") for m in range(BOARD_START, BOARD_END, 15)],
        id=TIMES_LIST,
    )
