"""Reception's calendar board: the toolbar, the grid and the side panel beside it."""

import reflex as rx

from clinic_app.components.board_grid import board_grid, board_scripts
from clinic_app.components.board_panel import side_panel
from clinic_app.components.layout import frame, option_select
from clinic_app.components.time_field import times_list
from clinic_app.state.booking import BookingSection
from clinic_app.state.calendar import CalendarState as C
from clinic_app.state.hours import HoursSection
from clinic_app.state.merge import MergeSection
from clinic_app.state.registration import RegistrationState


def _filter(select_id: str, label: str, everything: str, options, value, on_change) -> rx.Component:
    return rx.hstack(
        rx.el.label(label, html_for=select_id),
        rx.select.root(
            rx.select.trigger(id=select_id, aria_label=label),
            rx.select.content(
                rx.select.item(everything, value="all"),
                rx.foreach(options, lambda o: rx.select.item(o.label, value=o.value)),
            ),
            value=rx.cond(value == "", "all", value),
            on_change=on_change,
        ),
        align="center",
        spacing="2",
    )


def _toolbar() -> rx.Component:
    week = C.view == "week"
    return rx.vstack(
        rx.hstack(
            rx.el.label("Location", html_for="board-location"),
            option_select("board-location", "Location", C.locations, C.location_id, C.set_location),
            rx.button(rx.cond(week, "Previous week", "Previous day"), on_click=C.shift_day(-1), variant="soft"),
            rx.button("Today", on_click=C.go_today, variant="soft"),
            rx.button(rx.cond(week, "Next week", "Next day"), on_click=C.shift_day(1), variant="soft"),
            rx.el.label("Day", html_for="board-day"),
            rx.input(id="board-day", type="date", value=C.day, on_change=C.set_day, width="150px"),
            rx.button("Day view", on_click=C.set_view("day"), aria_pressed=C.view == "day",
                      variant=rx.cond(week, "outline", "solid")),
            rx.button("Week view", on_click=C.set_view("week"), aria_pressed=week,
                      variant=rx.cond(week, "solid", "outline")),
            rx.text(C.range_label, weight="bold", size="3", class_name="board-range"),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        rx.hstack(
            _filter("board-provider", "Provider filter", "All providers", C.providers, C.filter_provider_id,
                    C.set_filter_provider),
            _filter("board-room", "Room filter", "All rooms", C.rooms, C.filter_room_id, C.set_filter_room),
            rx.checkbox("Show cancelled", checked=C.show_released, on_change=C.set_show_released,
                        title="Show cancelled and no-show visits (beside the booking that took their slot)"),
            rx.spacer(),
            rx.cond(
                C.can_book,
                rx.hstack(
                    rx.button("New appointment", on_click=BookingSection.open("", "", "")),
                    rx.button("New patient", on_click=RegistrationState.start, variant="soft"),
                    rx.button("Hours and time off", on_click=HoursSection.start, variant="soft"),
                    rx.button("Merge duplicate records…", on_click=MergeSection.start, variant="soft"),
                    spacing="2",
                    wrap="wrap",
                ),
            ),
            spacing="2",
            align="center",
            wrap="wrap",
            width="100%",
        ),
        spacing="2",
        width="100%",
        margin_bottom="8px",
    )


def _closed() -> rx.Component:
    return rx.cond(
        C.closed_note != "",
        rx.callout(
            rx.hstack(
                rx.text(C.closed_note, weight="medium"),
                rx.cond(
                    C.next_open_day != "",
                    rx.button("Go to " + C.next_open_label, on_click=C.go_next_open, size="2"),
                    rx.text("Nobody works here in the next two months; check the providers' hours."),
                ),
                align="center",
                wrap="wrap",
                spacing="3",
            ),
            color_scheme="amber",
            size="1",
            class_name="board-closed",
        ),
    )


def board_page() -> rx.Component:
    return frame(
        "Calendar board",
        _toolbar(),
        rx.box(
            rx.box(_closed(), board_grid(), class_name="board-main"),
            side_panel(),
            class_name="board-area",
        ),
        times_list(),
        board_scripts(),
    )
