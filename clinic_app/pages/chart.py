"""The clinician's chart, tablet-first (768x1024 touch): a list (one day's visits, or My
open notes of any date) and the open visit in sections, with a sticky Sign bar.

On a narrow screen the visit replaces the list (a button goes back); from 1024 px they
sit side by side. Every control is at least 44 x 44 px (clinic.css, .chart-screen).
"""

import reflex as rx

from clinic_app.components.body_chart import body_chart
from clinic_app.components.chart_codes import codes_section
from clinic_app.components.chart_measures import measures_section
from clinic_app.components.chart_note import TOUCH, note_section
from clinic_app.components.chart_pending import LEAVE_GUARD, OFFLINE, PENDING
from clinic_app.components.chart_plan import plan_section
from clinic_app.components.chart_record import record_section
from clinic_app.components.layout import frame, message_box
from clinic_app.components.status_badge import status_badge
from clinic_app.state.chart import SECTIONS, ChartState
from clinic_app.state.chart_note import NoteSection

ROW = {"minHeight": "56px", "justifyContent": "flex-start", "textAlign": "left", "height": "auto", "whiteSpace": "normal"}
PANELS = {
    "note": note_section,
    "codes": codes_section,
    "measures": measures_section,
    "body": body_chart,
    "plan": plan_section,
    "record": record_section,
}


# -- the list ------------------------------------------------------------------------------------
def _visit(v) -> rx.Component:
    # Named by its own text: "Open note: 11:00 Quill, Zed, Arrived" (the first words for
    # screen readers only), so the name always holds what is seen.
    selected = ChartState.appointment_id == v.id
    return rx.button(
        rx.hstack(
            rx.text(rx.el.span("Open note: ", class_name="sr-only"), rx.el.strong(v.start_label), " ", v.patient_name),
            rx.spacer(),
            status_badge(v.status, v.status_label),
            width="100%",
            align="center",
        ),
        on_click=ChartState.open_visit(v.id, PENDING),
        aria_current=rx.cond(selected, "true", "false"),
        variant="surface",
        color_scheme="gray",
        width="100%",
        size="3",
        class_name=rx.cond(selected, "chart-row chart-row-selected", "chart-row"),
        style=ROW,
    )


def _open_note(n) -> rx.Component:
    # The visible text reads as the accessible name does: (Review and co-sign:) patient
    # (, by their clinician), date and time, age.
    return rx.button(
        rx.hstack(
            rx.text(
                rx.cond(n.kind == "cosign", "Review and co-sign: ", ""),
                rx.el.strong(n.patient_name),
                rx.cond(n.kind == "cosign", ", by " + n.provider_name, ""),
                ", " + n.when + ",",
            ),
            rx.badge(n.age_label, color_scheme=rx.cond(n.age_label == "today", "gray", "amber"), variant="soft",
                     high_contrast=True, size="2"),
            align="center",
            wrap="wrap",
            width="100%",
        ),
        on_click=ChartState.open_listed(n.appointment_id, n.note_id, n.kind, PENDING),
        aria_label=n.label,
        variant="surface",
        color_scheme="gray",
        width="100%",
        size="3",
        class_name=rx.cond(ChartState.appointment_id == n.appointment_id, "chart-row chart-row-selected", "chart-row"),
        style=ROW,
    )


def _day_list() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.el.label("Day", html_for="chart-day"),
                rx.input(id="chart-day", type="date", value=ChartState.day, on_change=ChartState.pick_day, size="3",
                         width="170px"),
                spacing="1",
            ),
            rx.cond(ChartState.day != ChartState.today,
                    rx.button("Today", on_click=ChartState.pick_day(ChartState.today), variant="soft", size="3",
                              style=TOUCH)),
            align="end",
            wrap="wrap",
        ),
        rx.foreach(ChartState.visits, _visit),
        rx.cond(ChartState.visits.length() == 0, rx.text("No visits on this day.")),
        spacing="2",
        width="100%",
    )


def _open_list() -> rx.Component:
    return rx.vstack(
        rx.heading("My open notes", size="4"),
        rx.text("Every note waiting for your signature or co-signature, whatever its date, oldest first.", size="2"),
        rx.hstack(
            rx.vstack(
                rx.el.label("Visit date", html_for="open-day"),
                rx.input(id="open-day", type="date", value=ChartState.open_day, on_change=ChartState.filter_open, size="3",
                         width="170px"),
                spacing="1",
            ),
            rx.cond(ChartState.open_day != "",
                    rx.button("All dates", on_click=ChartState.filter_open(""), variant="soft", size="3", style=TOUCH)),
            align="end",
            wrap="wrap",
        ),
        rx.foreach(ChartState.open_notes, _open_note),
        rx.cond(ChartState.open_notes.length() == 0,
                rx.text(rx.cond(ChartState.open_day != "", "No open note of that date.", "No open notes: every note is signed."))),
        spacing="2",
        width="100%",
    )


def _list() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.button("Day list", on_click=ChartState.show_day_list, aria_pressed=ChartState.list_mode == "day",
                      variant=rx.cond(ChartState.list_mode == "day", "solid", "soft"), size="3", style=TOUCH),
            rx.button("My open notes (", ChartState.open_total, ")", on_click=ChartState.show_open_notes,
                      aria_pressed=ChartState.list_mode == "open",
                      variant=rx.cond(ChartState.list_mode == "open", "solid", "soft"), size="3", style=TOUCH),
            wrap="wrap",
        ),
        rx.cond(ChartState.list_mode == "open", _open_list(), _day_list()),
        spacing="3",
        width=rx.breakpoints(initial="100%", md="320px"),
        flex_shrink="0",
        class_name="chart-list",
    )


# -- the visit -------------------------------------------------------------------------------------
def _header() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.button("Back to the list", on_click=ChartState.back_to_list(PENDING), variant="soft", size="3",
                      class_name="chart-narrow-only", style=TOUCH),
            rx.heading(ChartState.patient_name, size="5"),
            status_badge(ChartState.visit_status, ChartState.visit_status_label),
            rx.spacer(),
            rx.button("Close note", on_click=ChartState.close_note(PENDING), variant="soft", color_scheme="gray", size="3",
                      style=TOUCH),
            align="center",
            wrap="wrap",
            width="100%",
        ),
        rx.text(ChartState.visit_label),
        rx.cond(ChartState.visit_day_label != "", rx.text(ChartState.visit_day_label, weight="medium")),
        rx.cond(ChartState.own_note & (ChartState.allergy_words != ""), rx.text(ChartState.allergy_words, weight="bold")),
        rx.cond(
            ChartState.own_note & (ChartState.visit_status == "arrived"),
            rx.button("Start session", id="start-session", on_click=ChartState.start_session, size="3", style=TOUCH),
        ),
        spacing="1",
        width="100%",
    )


def _section_bar() -> rx.Component:
    return rx.el.div(
        *[
            rx.button(
                name,
                id=f"tab-{key}",
                role="tab",
                aria_selected=rx.cond(ChartState.section == key, "true", "false"),
                aria_controls=f"panel-{key}",
                on_click=ChartState.show_section(key),
                variant=rx.cond(ChartState.section == key, "solid", "soft"),
                size="3",
                style={**TOUCH, "flexShrink": "0"},
            )
            for key, name in SECTIONS
        ],
        role="tablist",
        aria_label="Sections of the visit",
        class_name="chart-tabs",
    )


def _panels() -> rx.Component:
    # Every section stays in the page (hidden when not chosen), so that the note's fields
    # are always there for PENDING to read, and a section shows at once when chosen.
    return rx.box(
        *[
            rx.el.div(
                rx.heading(name, size="5", margin_bottom="8px"),
                PANELS[key](),
                role="tabpanel",
                id=f"panel-{key}",
                aria_labelledby=f"tab-{key}",
                hidden=ChartState.section != key,
                class_name="chart-panel",
            )
            for key, name in SECTIONS
        ],
        width="100%",
    )


def _sign_bar() -> rx.Component:
    """The visit's state, what still blocks the signature (each a link to its field), the
    signature's result and the Sign button, always in view at the bottom."""
    draft_words = rx.cond(OFFLINE, "Not saved: the connection is down", rx.cond(NoteSection.saved_label != "",
                                                                                NoteSection.saved_label, "Draft"))
    return rx.box(
        rx.vstack(
            rx.hstack(
                status_badge(ChartState.visit_status, ChartState.visit_status_label),
                rx.text(rx.cond(ChartState.signed, "Signed; the note is locked.", draft_words),
                        role="status", size="2", weight="medium", class_name="save-state"),
                rx.spacer(),
                rx.cond(
                    ChartState.own_note & ~ChartState.signed,
                    rx.button(rx.cond(ChartState.supervised, "Sign note and send for co-signature", "Sign note"),
                              on_click=ChartState.sign(PENDING), loading=ChartState.signing, size="4",
                              color_scheme="green", high_contrast=True, id="sign-note", style={"minHeight": "52px"}),
                ),
                rx.cond(
                    ChartState.can_cosign,
                    rx.button("Co-sign note", on_click=ChartState.cosign, size="4", color_scheme="green",
                              high_contrast=True, style={"minHeight": "52px"}),
                ),
                align="center",
                wrap="wrap",
                width="100%",
            ),
            rx.cond(
                OFFLINE,
                rx.text("Connection lost. What you type now is not saved yet: it is sent when the connection is back. "
                        "Keep this page open.", role="alert", color_scheme="red", size="2", weight="bold"),
            ),
            rx.cond(
                ChartState.blockers.length() > 0,
                rx.el.div(
                    rx.text("Before signing:", size="2", weight="bold"),
                    rx.foreach(ChartState.blockers, lambda b: rx.el.button(
                        b.label, on_click=ChartState.go_to(b.section, b.target), type="button",
                        class_name="blocker",
                    )),
                    class_name="blockers",
                ),
            ),
            rx.el.div(
                rx.cond(ChartState.message != "",
                        rx.text(ChartState.message, color_scheme=rx.cond(ChartState.message_is_error, "red", "green"),
                                weight="medium", size="3")),
                role=rx.cond(ChartState.message_is_error, "alert", "status"),
                aria_live=rx.cond(ChartState.message_is_error, "assertive", "polite"),
                class_name="sign-bar-message",
            ),
            spacing="1",
            width="100%",
        ),
        class_name="sign-bar",
        custom_attrs={"data-chart-offline": rx.cond(OFFLINE, "true", "false")},
    )


def _visit_view() -> rx.Component:
    return rx.cond(
        ChartState.note_id != 0,
        rx.vstack(
            _header(),
            _section_bar(),
            _panels(),
            _sign_bar(),
            width="100%",
            spacing="3",
        ),
        rx.vstack(
            message_box(ChartState.message, ChartState.message_is_error),
            rx.text("Choose a visit from the list, or from My open notes, to open its note."),
            width="100%",
        ),
    )


def chart_page() -> rx.Component:
    return frame(
        "Chart",
        rx.flex(
            _list(),
            rx.box(_visit_view(), id="chart-visit", class_name="chart-visit", flex="1", width="100%", min_width="0",
                   custom_attrs={"data-note": ChartState.note_id.to_string()}),
            direction=rx.breakpoints(initial="column", md="row"),
            gap="16px",
            width="100%",
            class_name="chart-screen",
            custom_attrs={"data-visit-open": rx.cond(ChartState.note_id != 0, "true", "false"),
                          "data-list-open": rx.cond(ChartState.list_open, "true", "false")},
        ),
        rx.script(src=LEAVE_GUARD),
    )
