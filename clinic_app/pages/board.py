"""Reception's calendar board."""

import reflex as rx

from clinic_app.components.copay_section import copay_section
from clinic_app.components.hours_panel import hours_panel
from clinic_app.components.layout import frame, message_box, option_select
from clinic_app.components.merge_panel import merge_panel
from clinic_app.components.registration_form import registration_form
from clinic_app.components.status_badge import status_badge
from clinic_app.state.calendar import DAY_END, DAY_START, SLOT, CalendarState
from clinic_app.state.hours import HoursState
from clinic_app.state.merge import MergeState
from clinic_app.state.registration import RegistrationState
from clinic_app.state.series_move import SeriesMoveState

ROWS = (DAY_END - DAY_START) // SLOT


def _toolbar() -> rx.Component:
    return rx.hstack(
        rx.el.label("Location", html_for="board-location"),
        option_select("board-location", "Location", CalendarState.locations, CalendarState.location_id, CalendarState.set_location),
        rx.button(rx.cond(CalendarState.view == "week", "Previous week", "Previous day"),
                  on_click=CalendarState.shift_day(-1), variant="soft"),
        rx.button("Today", on_click=CalendarState.go_today, variant="soft"),
        rx.button(rx.cond(CalendarState.view == "week", "Next week", "Next day"),
                  on_click=CalendarState.shift_day(1), variant="soft"),
        rx.el.label("Day", html_for="board-day"),
        rx.input(id="board-day", type="date", value=CalendarState.day, on_change=CalendarState.set_day, width="170px"),
        rx.button("Day view", on_click=CalendarState.set_view("day"), aria_pressed=CalendarState.view == "day",
                  variant=rx.cond(CalendarState.view == "day", "solid", "outline")),
        rx.button("Week view", on_click=CalendarState.set_view("week"), aria_pressed=CalendarState.view == "week",
                  variant=rx.cond(CalendarState.view == "week", "solid", "outline")),
        rx.el.label("Provider filter", html_for="board-provider"),
        rx.select.root(
            rx.select.trigger(id="board-provider", aria_label="Provider filter"),
            rx.select.content(
                rx.select.item("All providers", value="all"),
                rx.foreach(CalendarState.providers, lambda o: rx.select.item(o.label, value=o.value)),
            ),
            value=rx.cond(CalendarState.filter_provider_id == "", "all", CalendarState.filter_provider_id),
            on_change=CalendarState.set_filter_provider,
        ),
        rx.el.label("Room filter", html_for="board-room"),
        rx.select.root(
            rx.select.trigger(id="board-room", aria_label="Room filter"),
            rx.select.content(
                rx.select.item("All rooms", value="all"),
                rx.foreach(CalendarState.rooms, lambda o: rx.select.item(o.label, value=o.value)),
            ),
            value=rx.cond(CalendarState.filter_room_id == "", "all", CalendarState.filter_room_id),
            on_change=CalendarState.set_filter_room,
        ),
        rx.cond(CalendarState.can_book, rx.button("New appointment", on_click=CalendarState.open_booking("", "", ""))),
        rx.cond(CalendarState.can_book, rx.button("New patient", on_click=RegistrationState.start, variant="soft")),
        rx.cond(CalendarState.can_book, rx.button("Hours and time off", on_click=HoursState.start, variant="soft")),
        rx.cond(CalendarState.can_book, rx.button("Merge duplicate records…", on_click=MergeState.start, variant="soft")),
        spacing="3",
        align="center",
        wrap="wrap",
        margin_bottom="12px",
    )


def _card(card) -> rx.Component:
    # The live overlay holds statuses pushed since the cards were last sent whole.
    status = CalendarState.live_status.get(card.key, card.status)
    label = CalendarState.live_label.get(card.key, card.status_label)
    return rx.el.button(
        rx.vstack(
            rx.hstack(
                rx.text(card.start_label, "-", card.end_label, size="1", weight="bold"),
                status_badge(status, label),
                justify="between",
                width="100%",
            ),
            rx.text(card.patient_name, size="2", weight="medium"),
            rx.text(card.type_name, " ", card.room_name, size="1", color_scheme="gray"),
            rx.cond(card.auth_warning != "", rx.text("At risk: ", card.auth_warning, size="1", color_scheme="orange", weight="bold")),
            spacing="0",
            align="start",
        ),
        on_click=CalendarState.select(card.id),
        aria_label=card.patient_name + ", " + card.start_label + ", " + label.to(str)
        + rx.cond(card.auth_warning != "", ", at risk: " + card.auth_warning, ""),
        class_name="board-card",
        data_appointment=card.id,
        style={
            "gridColumn": card.grid_column,
            "gridRow": card.grid_row,
            "opacity": rx.cond(card.released, "0.55", "1"),
            "borderLeft": "4px solid var(--" + card.color + "-9)",
        },
    )


def _shade(shade) -> rx.Component:
    return rx.box(
        rx.text(shade.label, size="1", color_scheme="gray"),
        class_name="board-shade",
        style={
            "gridColumn": shade.grid_column, "gridRow": shade.grid_row, "padding": "2px 6px",
            "background": "repeating-linear-gradient(45deg, var(--gray-3), var(--gray-3) 6px, var(--gray-4) 6px, var(--gray-4) 12px)",
        },
    )


def _slot(slot) -> rx.Component:
    return rx.el.button(
        on_click=CalendarState.open_booking(slot.provider_id, slot.time, slot.day),
        aria_label=slot.label,
        title=slot.label,
        class_name="board-slot",
        style={"gridColumn": slot.grid_column, "gridRow": slot.grid_row},
    )


def _grid() -> rx.Component:
    return rx.box(
        rx.box("Time", class_name="board-head", style={"gridColumn": "1", "gridRow": "1"}),
        rx.foreach(
            CalendarState.columns,
            lambda c: rx.box(c.name, class_name="board-head", role="columnheader",
                             style={"gridColumn": c.grid_column, "gridRow": "1"}),
        ),
        rx.foreach(
            CalendarState.hours,
            lambda h: rx.box(h.label, class_name="board-hour", style={"gridColumn": "1", "gridRow": h.grid_row}),
        ),
        rx.foreach(CalendarState.shades, _shade),
        rx.cond(CalendarState.can_book, rx.foreach(CalendarState.slots, _slot)),
        rx.foreach(CalendarState.cards, _card),
        class_name="board-grid",
        style={
            "gridTemplateColumns": "64px repeat(" + CalendarState.columns.length().to(str) + ", minmax(180px, 1fr))",
            "gridTemplateRows": f"40px repeat({ROWS}, 28px)",
        },
        role="grid",
        aria_label="Appointments by provider and time",
    )


def _details() -> rx.Component:
    card = CalendarState.selected
    # A pushed status change lands in the overlay first.
    status = CalendarState.live_status.get(card.key, card.status)
    label = CalendarState.live_label.get(card.key, card.status_label)
    return rx.cond(
        CalendarState.selected_id != 0,
        rx.card(
            rx.vstack(
                rx.heading("Appointment", size="4"),
                rx.text(card.patient_name, weight="bold"),
                rx.text(card.type_name, ", ", card.start_label, "-", card.end_label, " ", card.room_name),
                rx.text(card.day, " ", card.duration, " min"),
                status_badge(status, label),
                rx.cond(CalendarState.detail_coverage != "", rx.text("Insurance: ", CalendarState.detail_coverage, size="2")),
                copay_section(),
                rx.cond(CalendarState.detail_arrived != "", rx.text("Arrived ", CalendarState.detail_arrived)),
                rx.cond(CalendarState.detail_wait != "", rx.text("Waited ", CalendarState.detail_wait)),
                rx.cond(CalendarState.detail_checked_out != "", rx.text("Checked out ", CalendarState.detail_checked_out)),
                rx.cond(card.auth_warning != "", rx.callout("At risk of denial: " + card.auth_warning, color_scheme="orange", size="1")),
                rx.cond(
                    CalendarState.can_book & ((status == "cancelled") | (status == "no_show")),
                    rx.vstack(
                        rx.button("Offer this freed slot", on_click=CalendarState.load_offers(card.id), variant="soft", size="3"),
                        rx.cond(
                            CalendarState.offers_loaded & (CalendarState.offers.length() == 0),
                            rx.text("Nobody on the waitlist fits this slot."),
                        ),
                        rx.foreach(
                            CalendarState.offers,
                            lambda o: rx.vstack(
                                rx.button("Book " + o.patient_name, on_click=CalendarState.book_offer(o.entry_id), size="2"),
                                rx.text(o.why, size="1", color_scheme="gray"),
                                spacing="0",
                            ),
                        ),
                        spacing="2",
                    ),
                ),
                rx.cond(
                    CalendarState.can_book,
                    rx.vstack(
                        rx.cond(status == "booked", rx.button("Check in", on_click=CalendarState.check_in(card.id), size="3")),
                        rx.cond(status == "booked", rx.button("Move", on_click=CalendarState.open_move(card.id), variant="soft", size="3")),
                        rx.cond(
                            (status != "booked") & (status != "cancelled") & (status != "no_show")
                            & (CalendarState.detail_checked_out == ""),
                            rx.button("Check out", on_click=CalendarState.check_out(card.id), variant="soft", size="3"),
                        ),
                        rx.cond(status == "booked", rx.button("Mark no-show", on_click=CalendarState.mark_no_show(card.id), variant="soft", size="3")),
                        rx.cond(
                            (status == "booked") | (status == "arrived"),
                            rx.vstack(
                                rx.el.label("Cancellation reason", html_for="cancel-reason"),
                                rx.input(id="cancel-reason", value=CalendarState.cancel_reason,
                                         on_change=CalendarState.set_cancel_reason, max_length=200),
                                rx.button("Cancel appointment", on_click=CalendarState.cancel(card.id), color_scheme="red", variant="soft", size="3"),
                                rx.cond(
                                    card.in_series & (status == "booked"),
                                    rx.button("Cancel this and following", on_click=CalendarState.cancel_following(card.id),
                                              color_scheme="red", variant="outline", size="3"),
                                ),
                                spacing="1",
                            ),
                        ),
                        spacing="2",
                    ),
                ),
                rx.button("Close details", on_click=CalendarState.close_details, variant="ghost"),
                spacing="2",
                align="start",
            ),
            width="300px",
        ),
    )


def _series_move() -> rx.Component:
    """The same time, length and provider for this visit of the series and every later one."""
    return rx.vstack(
        rx.text("This visit is part of a series: apply the new time, length and provider to it and every "
                "later visit (the date of each stays).", size="1", color_scheme="gray"),
        rx.button("Check this and following", on_click=SeriesMoveState.check, variant="soft", size="3"),
        rx.foreach(
            SeriesMoveState.plan,
            lambda p: rx.text(p.label, ": ", rx.cond(p.problem == "", "free", p.problem), size="1",
                              color_scheme=rx.cond(p.problem == "", "green", "red")),
        ),
        rx.button("Move this and following", on_click=SeriesMoveState.save(False), size="3"),
        rx.cond(SeriesMoveState.has_conflicts,
                rx.button("Move the free visits only", on_click=SeriesMoveState.save(True), variant="outline", size="3")),
        spacing="2",
        align="start",
    )


def _move_panel() -> rx.Component:
    return rx.cond(
        CalendarState.move_open & (CalendarState.selected_id != 0),
        rx.card(
            rx.vstack(
                rx.heading("Move appointment", size="4"),
                rx.text(CalendarState.selected.patient_name, weight="bold"),
                rx.el.label("New date", html_for="move-day"),
                rx.input(id="move-day", type="date", value=CalendarState.move_day, on_change=CalendarState.set_move_day),
                rx.el.label("New start time", html_for="move-time"),
                rx.input(id="move-time", type="time", step=300, value=CalendarState.move_time, on_change=CalendarState.set_move_time),
                rx.el.label("New provider", html_for="move-provider"),
                option_select("move-provider", "New provider", CalendarState.providers, CalendarState.move_provider_id, CalendarState.set_move_provider),
                rx.el.label("Length", html_for="move-duration"),
                option_select("move-duration", "Length", CalendarState.durations, CalendarState.move_duration, CalendarState.set_move_duration),
                rx.el.label("Reason for the move", html_for="move-reason"),
                rx.input(id="move-reason", value=CalendarState.move_reason, on_change=CalendarState.set_move_reason, max_length=200),
                rx.hstack(
                    rx.button("Save move", on_click=CalendarState.save_move, size="3"),
                    rx.button("Close move form", on_click=CalendarState.close_move, variant="ghost", size="3"),
                ),
                rx.cond(CalendarState.selected.in_series, _series_move()),
                spacing="2",
                align="start",
            ),
            width="300px",
        ),
    )


def _booking() -> rx.Component:
    return rx.cond(
        CalendarState.booking_open,
        rx.card(
            rx.vstack(
                rx.heading("Book an appointment", size="4"),
                rx.el.label("Find patient (name, MRN or phone)", html_for="patient-search"),
                rx.input(id="patient-search", value=CalendarState.patient_query,
                         on_change=CalendarState.search_patients.debounce(250), max_length=80,
                         placeholder="Type at least 2 letters"),
                rx.foreach(
                    CalendarState.patient_hits,
                    lambda h: rx.button("Choose " + h.label, on_click=CalendarState.choose_patient(h.id),
                                        variant="outline", size="1", white_space="normal", height="auto"),
                ),
                rx.text("Patient: ", rx.cond(CalendarState.form_patient_id != 0, CalendarState.form_patient_label, "none chosen")),
                rx.cond(CalendarState.form_patient_id != 0,
                        rx.button("Edit patient details", on_click=RegistrationState.start_edit, variant="outline", size="2",
                                  min_height="44px")),
                rx.el.label("Provider", html_for="book-provider"),
                option_select("book-provider", "Provider", CalendarState.providers, CalendarState.form_provider_id, CalendarState.set_form_provider),
                rx.el.label("Appointment date", html_for="book-day"),
                rx.input(id="book-day", type="date", value=CalendarState.form_day, on_change=CalendarState.set_form_day),
                rx.el.label("Start time", html_for="book-time"),
                rx.input(id="book-time", type="time", step=300, value=CalendarState.form_time, on_change=CalendarState.set_form_time),
                rx.el.label("Appointment type", html_for="book-type"),
                option_select("book-type", "Appointment type", CalendarState.types, CalendarState.form_type_id, CalendarState.set_form_type),
                rx.el.label("Room", html_for="book-room"),
                rx.select.root(
                    rx.select.trigger(id="book-room", aria_label="Room", placeholder="No room"),
                    rx.select.content(
                        rx.select.item("No room", value="none"),
                        rx.foreach(CalendarState.rooms, lambda o: rx.select.item(o.label, value=o.value)),
                    ),
                    value=rx.cond(CalendarState.form_room_id == "", "none", CalendarState.form_room_id),
                    on_change=CalendarState.set_form_room,
                ),
                rx.cond(
                    CalendarState.case_options.length() > 0,
                    rx.vstack(
                        rx.el.label("Episode of care", html_for="book-case"),
                        rx.select.root(
                            rx.select.trigger(id="book-case", aria_label="Episode of care"),
                            rx.select.content(
                                rx.select.item("None", value="none"),
                                rx.foreach(CalendarState.case_options, lambda o: rx.select.item(o.label, value=o.value)),
                            ),
                            value=rx.cond(CalendarState.form_case_id == "", "none", CalendarState.form_case_id),
                            on_change=CalendarState.set_form_case,
                        ),
                        spacing="1",
                    ),
                ),
                rx.cond(
                    CalendarState.form_patient_id != 0,
                    rx.el.details(
                        rx.el.summary("New episode of care"),
                        rx.vstack(
                            rx.el.label("Episode title", html_for="case-title"),
                            rx.input(id="case-title", value=CalendarState.case_title, max_length=120,
                                     on_change=lambda v: CalendarState.set_case_field("case_title", v)),
                            rx.el.label("Authorised visits", html_for="case-visits"),
                            rx.input(id="case-visits", type="number", min=0, value=CalendarState.case_visits,
                                     on_change=lambda v: CalendarState.set_case_field("case_visits", v), width="100px"),
                            rx.el.label("Authorisation ends", html_for="case-end"),
                            rx.input(id="case-end", type="date", value=CalendarState.case_end,
                                     on_change=lambda v: CalendarState.set_case_field("case_end", v)),
                            rx.button("Open episode", on_click=CalendarState.open_case, variant="soft", size="2"),
                            spacing="1",
                            align="start",
                        ),
                    ),
                ),
                rx.el.fieldset(
                    rx.el.legend("Repeat every week on"),
                    rx.hstack(
                        rx.foreach(
                            CalendarState.weekday_options,
                            lambda o: rx.checkbox(
                                o.label, checked=CalendarState.repeat_days.contains(o.value),
                                on_change=lambda on: CalendarState.toggle_repeat_day(o.value, on),
                            ),
                        ),
                        wrap="wrap",
                    ),
                    rx.cond(
                        CalendarState.repeat_days.length() > 0,
                        rx.vstack(
                            rx.el.label("For how many weeks", html_for="repeat-weeks"),
                            rx.input(id="repeat-weeks", type="number", min=1, max=26, value=CalendarState.repeat_weeks,
                                     on_change=CalendarState.set_repeat_weeks, width="80px"),
                            rx.button("Check series", on_click=CalendarState.check_series, variant="soft", size="3"),
                            rx.el.ul(
                                rx.foreach(
                                    CalendarState.series_plan,
                                    lambda v: rx.el.li(
                                        v.label, ": ",
                                        rx.cond(v.problem == "", rx.text.span("free", color_scheme="green"),
                                                rx.text.span(v.problem, color_scheme="red")),
                                    ),
                                ),
                                aria_label="Series check",
                                style={"fontSize": "13px", "paddingLeft": "16px"},
                            ),
                            rx.button("Book series", on_click=CalendarState.book_series(False), size="3"),
                            rx.cond(
                                CalendarState.series_has_conflicts,
                                rx.button("Book the free visits only", on_click=CalendarState.book_series(True),
                                          color_scheme="amber", size="3"),
                            ),
                            spacing="2",
                            align="start",
                        ),
                    ),
                    style={"border": "1px solid var(--gray-5)", "borderRadius": "6px", "padding": "6px"},
                ),
                rx.hstack(
                    rx.button("Book appointment", on_click=CalendarState.book, size="3"),
                    rx.button("Close booking form", on_click=CalendarState.close_booking, variant="ghost", size="3"),
                    wrap="wrap",
                ),
                rx.button("Add to waitlist instead", on_click=CalendarState.add_to_waitlist, variant="outline", size="2"),
                spacing="2",
                align="start",
            ),
            width="320px",
        ),
    )


def board_page() -> rx.Component:
    return frame(
        "Calendar board",
        _toolbar(),
        message_box(CalendarState.message, CalendarState.message_is_error),
        rx.text(CalendarState.range_label, weight="medium", margin_bottom="8px"),
        rx.hstack(
            rx.box(_grid(), overflow_x="auto", flex="1"),
            rx.vstack(registration_form(), merge_panel(), hours_panel(), _booking(), _move_panel(), _details()),
            align="start",
            spacing="4",
            width="100%",
        ),
    )
