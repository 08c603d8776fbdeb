"""The board's side panel: beside the grid, in view wherever the grid is scrolled, one part at
a time (a visit, booking, move, registration, hours, merge). Each part's results and
refusals show inside it, next to the button pressed; the board's own message sits at the
panel's top, so nothing pushes the grid."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.board_grid import newest
from clinic_app.components.copay_section import copay_section
from clinic_app.components.hours_panel import hours_panel
from clinic_app.components.layout import message_box, option_select
from clinic_app.components.merge_panel import merge_panel
from clinic_app.components.registration_form import registration_form
from clinic_app.components.status_badge import status_badge
from clinic_app.components.time_field import time_field
from clinic_app.state.booking import BookingSection as B
from clinic_app.state.booking import SeriesSection as S
from clinic_app.state.booking import WaitlistSection as W
from clinic_app.state.calendar import CalendarState as C
from clinic_app.state.move import MoveSection as M
from clinic_app.state.registration import RegistrationState
from clinic_app.state.series_move import SeriesMoveSection as SM
from clinic_app.state.visit import VisitSection as V

PROFILE_ROUTE = "/patients/"


def _field(card, name: str, kind=str):
    return card[name].to(kind)


def _fieldset(legend: str, *children, **props) -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend(rx.text(legend, weight="bold", size="2")),
        rx.vstack(*children, spacing="2", align="start", width="100%"),
        class_name="board-fieldset",
        **props,
    )


def _day_and_time(prefix: str, day_label: str, day, on_day, time_label: str, time, on_time) -> rx.Component:
    """A date (the browser's date picker) and a 24-hour start time, side by side."""
    return rx.hstack(
        rx.vstack(
            rx.el.label(day_label, html_for=f"{prefix}-day"),
            rx.input(id=f"{prefix}-day", type="date", value=day, on_change=on_day),
            spacing="1",
        ),
        time_field(f"{prefix}-time", time_label, time, on_time),
        align="start",
        wrap="wrap",
    )


def _actions(message: rx.Component, *buttons: rx.Component) -> rx.Component:
    """A form's main buttons, with its message just above them, kept in view at the panel's
    foot while the rest of the form scrolls (a refusal is never out of sight of its button)."""
    return rx.box(message, rx.hstack(*buttons, wrap="wrap", spacing="2"), class_name="board-panel-actions")


# -- a visit ------------------------------------------------------------------------------------
def _release_dialog() -> rx.Component:
    cancelling = V.release_kind == "cancelled"
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(rx.cond(
                cancelling,
                "Cancel " + V.release_patient + "'s appointment?",
                "Mark " + V.release_patient + " as a no-show?",
            )),
            rx.alert_dialog.description(V.release_when, size="2", weight="medium"),
            rx.text(V.release_words, size="2", margin_top="8px",
                    color_scheme=rx.cond(V.release_late, "red", "gray"), weight=rx.cond(V.release_late, "bold", "regular")),
            rx.vstack(
                rx.el.label("Reason", html_for="release-reason"),
                rx.input(id="release-reason", value=V.reason, on_change=V.set_reason, max_length=201, width="100%",
                         placeholder=rx.cond(cancelling, "e.g. the patient is unwell", "e.g. did not answer the phone")),
                rx.cond(V.release_problem != "",
                        rx.callout(V.release_problem, color_scheme="red", role="alert", size="1")),
                spacing="1",
                margin_top="12px",
                width="100%",
            ),
            rx.flex(
                rx.button("Keep the appointment", on_click=V.close_release, variant="soft", color_scheme="gray",
                          size="3"),
                rx.cond(
                    cancelling & _field(newest(C.selected_id.to(str), V.row), "in_series", bool),
                    rx.button("Cancel this and following", on_click=V.confirm_release_following, variant="outline",
                              color_scheme="red", size="3"),
                ),
                rx.button(rx.cond(cancelling, "Cancel the appointment", "Mark as a no-show"),
                          on_click=V.confirm_release, color_scheme="red", size="3"),
                gap="3",
                margin_top="16px",
                justify="end",
                wrap="wrap",
            ),
            max_width="440px",
        ),
        open=V.release_kind != "",
        on_open_change=V.release_open_change,
    )


def _offers() -> rx.Component:
    card = newest(C.selected_id.to(str), V.row)
    return rx.vstack(
        rx.button("Offer this freed slot", on_click=W.load_offers, variant="soft", size="3"),
        rx.cond((W.offers_for == C.selected_id) & (W.offers.length() == 0),
                rx.text("Nobody on the waitlist fits this slot.", size="2")),
        rx.foreach(
            W.offers,
            lambda o: rx.vstack(
                rx.button("Book " + o.patient_name, on_click=W.book_offer(o.entry_id), size="2"),
                rx.text(o.why, size="1", color_scheme="gray"),
                spacing="1",
            ),
        ),
        message_box(W.message, W.message_is_error),
        spacing="2",
        align="start",
        data_for=_field(card, "id", str),
    )


def visit_panel() -> rx.Component:
    card = newest(C.selected_id.to(str), V.row)
    status = _field(card, "status")
    booked, arrived = status == "booked", status == "arrived"
    released = (status == "cancelled") | (status == "no_show")
    today = _field(card, "day") == C.today
    return rx.vstack(
        rx.heading("Appointment", size="4"),
        rx.hstack(
            rx.text(_field(card, "patient_name"), weight="bold", size="3"),
            rx.cond(C.can_book, rx.link("Patient profile", href=PROFILE_ROUTE + _field(card, "patient_id"), size="2")),
            align="baseline",
            wrap="wrap",
            spacing="3",
        ),
        rx.text(_field(card, "day"), " ", _field(card, "start_label"), "-", _field(card, "end_label"), size="2"),
        rx.text(_field(card, "type_name"), rx.cond(_field(card, "room_name") != "", ", " + _field(card, "room_name"), ""),
                size="2"),
        status_badge(status, _field(card, "status_label")),
        rx.cond(V.coverage != "", rx.text("Insurance: ", V.coverage, size="2")),
        rx.cond(V.intake != "", rx.text(V.intake, size="2", weight="medium", id="visit-intake")),
        copay_section(),
        rx.cond(V.arrived != "", rx.text("Arrived ", V.arrived)),
        rx.cond(V.wait != "", rx.text("Waited ", V.wait)),
        rx.cond(V.checked_out != "", rx.text("Checked out ", V.checked_out)),
        rx.cond(_field(card, "auth_warning") != "",
                rx.callout("At risk of denial: " + _field(card, "auth_warning"), color_scheme="orange", size="1")),
        rx.cond(
            C.can_book,
            rx.flex(
                rx.cond(booked & today, rx.button("Check in", on_click=V.check_in, size="3")),
                rx.cond(booked, rx.button("Move", on_click=M.open, variant="soft", size="3")),
                rx.cond(
                    ~booked & ~released & (V.checked_out == ""),
                    rx.button("Check out", on_click=V.check_out, variant="soft", size="3"),
                ),
                rx.cond(booked & V.started,
                        rx.button("Mark no-show…", on_click=V.ask_release("no_show"), variant="soft", size="3")),
                rx.cond(booked | arrived,
                        rx.button("Cancel appointment…", on_click=V.ask_release("cancelled"), color_scheme="red",
                                  variant="soft", size="3")),
                gap="2",
                wrap="wrap",
            ),
        ),
        message_box(V.message, V.message_is_error),
        rx.cond(C.can_book & released, _offers()),
        rx.button("Close details", on_click=C.close_panel, variant="ghost", size="3"),
        _release_dialog(),
        spacing="2",
        align="start",
        width="100%",
    )


# -- booking ------------------------------------------------------------------------------------
def _patient_search() -> rx.Component:
    return rx.vstack(
        rx.el.label("Find patient (name, MRN or phone)", html_for="patient-search"),
        rx.input(id="patient-search", value=B.query, on_change=B.search_patients.debounce(250), max_length=80,
                 placeholder="Type at least 2 letters", width="100%"),
        rx.foreach(
            B.hits,
            lambda h: rx.button("Choose " + h.label, on_click=B.choose_patient(h.id), variant="outline", size="2",
                                white_space="normal", height="auto", min_height="36px", text_align="left"),
        ),
        rx.cond(
            (B.searched != "") & (B.hits.length() == 0) & (B.patient_id == 0),
            rx.hstack(
                rx.text("No patient matches “", B.searched, "”.", size="2"),
                rx.button("Register them", on_click=RegistrationState.start, variant="soft", size="2"),
                align="center",
                wrap="wrap",
            ),
        ),
        rx.text("Patient: ", rx.cond(B.patient_id != 0, B.patient_label, "none chosen"), size="2", weight="medium"),
        rx.cond(B.patient_id != 0,
                rx.hstack(
                    rx.button("Edit patient details", on_click=RegistrationState.start_edit, variant="outline", size="2"),
                    rx.link("Patient profile", href=PROFILE_ROUTE + B.patient_id.to(str), size="2"),
                    align="center",
                    spacing="3",
                )),
        spacing="1",
        width="100%",
        align="start",
    )


def _episode() -> rx.Component:
    return rx.vstack(
        rx.cond(
            B.case_options.length() > 0,
            rx.vstack(
                rx.el.label("Episode of care", html_for="book-case"),
                rx.select.root(
                    rx.select.trigger(id="book-case", aria_label="Episode of care"),
                    rx.select.content(
                        rx.select.item("None", value="none"),
                        rx.foreach(B.case_options, lambda o: rx.select.item(o.label, value=o.value)),
                    ),
                    value=rx.cond(B.case_id == "", "none", B.case_id),
                    on_change=B.set_case,
                ),
                spacing="1",
            ),
        ),
        rx.cond(
            B.patient_id != 0,
            rx.el.details(
                rx.el.summary("New episode of care"),
                rx.vstack(
                    rx.el.label("Episode title", html_for="case-title"),
                    rx.input(id="case-title", value=B.case_title, max_length=120,
                             on_change=lambda v: B.set_case_field("case_title", v)),
                    rx.el.label("Authorised visits", html_for="case-visits"),
                    rx.input(id="case-visits", type="number", min=0, value=B.case_visits,
                             on_change=lambda v: B.set_case_field("case_visits", v), width="100px"),
                    rx.el.label("Authorisation ends", html_for="case-end"),
                    rx.input(id="case-end", type="date", value=B.case_end,
                             on_change=lambda v: B.set_case_field("case_end", v)),
                    rx.button("Open episode", on_click=B.open_case, variant="soft", size="2"),
                    spacing="1",
                    align="start",
                ),
            ),
        ),
        spacing="2",
        width="100%",
    )


def _series() -> rx.Component:
    return _fieldset(
        "Repeat every week on",
        rx.hstack(
            rx.foreach(S.weekday_options,
                       lambda o: rx.checkbox(o.label, checked=S.repeat_days.contains(o.value),
                                             on_change=lambda on: S.toggle_day(o.value, on))),
            wrap="wrap",
        ),
        rx.cond(
            S.repeat_days.length() > 0,
            rx.vstack(
                rx.el.label("For how many weeks", html_for="repeat-weeks"),
                rx.input(id="repeat-weeks", type="number", min=1, max=26, value=S.repeat_weeks, on_change=S.set_weeks,
                         width="80px"),
                rx.button("Check series", on_click=S.check, variant="soft", size="3"),
                rx.el.ul(
                    rx.foreach(
                        S.plan,
                        lambda v: rx.el.li(
                            v.label, ": ",
                            rx.cond(v.problem == "", rx.text.span("free", color_scheme="green"),
                                    rx.text.span(v.problem, color_scheme="red")),
                        ),
                    ),
                    aria_label="Series check",
                    class_name="board-series-plan",
                ),
                rx.button("Book series", on_click=S.book(False), size="3"),
                rx.cond(S.has_conflicts,
                        rx.button("Book the free visits only", on_click=S.book(True), color_scheme="amber", size="3")),
                message_box(S.message, S.message_is_error),
                spacing="2",
                align="start",
            ),
        ),
    )


def booking_panel() -> rx.Component:
    return rx.vstack(
        rx.heading("Book an appointment", size="4"),
        _patient_search(),
        rx.el.label("Provider", html_for="book-provider"),
        option_select("book-provider", "Provider", C.providers, B.provider_id, B.set_provider),
        _day_and_time("book", "Appointment date", B.book_day, B.set_day, "Start time", B.time, B.set_time),
        rx.el.label("Appointment type", html_for="book-type"),
        option_select("book-type", "Appointment type", C.types, B.type_id, B.set_type),
        rx.el.label("Room", html_for="book-room"),
        rx.select.root(
            rx.select.trigger(id="book-room", aria_label="Room", placeholder="No room"),
            rx.select.content(
                rx.select.item("No room", value="none"),
                rx.foreach(C.rooms, lambda o: rx.select.item(o.label, value=o.value)),
            ),
            value=rx.cond(B.room_id == "", "none", B.room_id),
            on_change=B.set_room,
        ),
        _episode(),
        _actions(
            message_box(B.message, B.message_is_error),
            rx.button("Book appointment", on_click=B.book, size="3"),
            rx.button("Close booking form", on_click=B.close, variant="ghost", size="3"),
        ),
        _series(),
        rx.button("Add to waitlist instead", on_click=W.add, variant="outline", size="2"),
        message_box(W.message, W.message_is_error),
        spacing="2",
        align="start",
        width="100%",
    )


# -- move ------------------------------------------------------------------------------------------
def _series_move() -> rx.Component:
    """The same time, length and provider for this visit of the series and every later one."""
    return _fieldset(
        "This and following",
        rx.text("This visit is part of a series: apply the new time, length and provider to it and every "
                "later visit (the date of each stays).", size="1", color_scheme="gray"),
        rx.button("Check this and following", on_click=SM.check, variant="soft", size="3"),
        rx.foreach(
            SM.plan,
            lambda p: rx.text(p.label, ": ", rx.cond(p.problem == "", "free", p.problem), size="1",
                              color_scheme=rx.cond(p.problem == "", "green", "red")),
        ),
        rx.button("Move this and following", on_click=SM.save(False), size="3"),
        rx.cond(SM.has_conflicts,
                rx.button("Move the free visits only", on_click=SM.save(True), variant="outline", size="3")),
        message_box(SM.message, SM.message_is_error),
    )


def move_panel() -> rx.Component:
    return rx.vstack(
        rx.heading("Move appointment", size="4"),
        rx.text(M.patient_name, weight="bold"),
        rx.text("Or drag the card on the board; drag its bottom edge to change the length.", size="1",
                color_scheme="gray"),
        _day_and_time("move", "New date", M.move_day, M.set_day, "New start time", M.move_time, M.set_time),
        rx.el.label("New provider", html_for="move-provider"),
        option_select("move-provider", "New provider", C.providers, M.move_provider_id, M.set_provider),
        rx.el.label("Length", html_for="move-duration"),
        option_select("move-duration", "Length", M.durations, M.move_duration, M.set_duration),
        rx.el.label("Reason for the move", html_for="move-reason"),
        rx.input(id="move-reason", value=M.move_reason, on_change=M.set_reason, max_length=200, width="100%"),
        _actions(
            message_box(M.message, M.message_is_error),
            rx.button("Save move", on_click=M.save, size="3"),
            rx.button("Close move form", on_click=M.close, variant="ghost", size="3"),
        ),
        rx.cond(M.in_series, _series_move()),
        spacing="2",
        align="start",
        width="100%",
    )


# -- the panel -------------------------------------------------------------------------------------
def _empty() -> rx.Component:
    return rx.vstack(
        rx.heading("Side panel", size="3", color_scheme="gray"),
        rx.text("Click a card to see the visit and what can be done with it, or a free slot to book. "
                "Drag a card to move it.", size="2", color_scheme="gray"),
        spacing="2",
    )


def side_panel() -> rx.Component:
    return rx.el.aside(
        message_box(C.message, C.message_is_error),
        rx.match(
            C.panel,
            ("visit", visit_panel()),
            ("booking", booking_panel()),
            ("move", move_panel()),
            ("registration", registration_form()),
            ("hours", hours_panel()),
            ("merge", merge_panel()),
            _empty(),
        ),
        class_name="board-panel",
        aria_label="Side panel",
    )
