"""Codes & billing: diagnoses found by words (offline ICD-10-CM) or one tap from the
problem list, and procedure lines with minutes that autosave."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.chart_note import EDITABLE, TOUCH
from clinic_app.state.chart import ChartState
from clinic_app.state.chart_codes import CodesSection as C


def section_message(state, where=None) -> rx.Component:
    """A section's outcome by its controls, announced (errors at once)."""
    return rx.cond(
        (state.message != "") if where is None else (state.message != "") & where,
        rx.callout(state.message, color_scheme=rx.cond(state.message_is_error, "red", "green"), high_contrast=True,
                   role=rx.cond(state.message_is_error, "alert", "status"), size="1", width="100%"),
    )


def _hit(h) -> rx.Component:
    return rx.button(
        rx.text(rx.el.strong(h.code), " ", h.description, size="2"),
        on_click=C.add_diagnosis(h.code), aria_label=h.add_label, variant="surface", size="3",
        white_space="normal", height="auto",
        style={"minHeight": "44px", "justifyContent": "flex-start", "textAlign": "left", "width": "100%"},
    )


def _chip(h) -> rx.Component:
    """A problem-list code as a compact button: code and title, one tap adds it."""
    return rx.button(
        rx.text(rx.el.strong(h.code), " ", h.description, size="1"),
        on_click=C.add_diagnosis(h.code), aria_label=h.add_label, title=h.description, variant="soft", size="2",
        white_space="normal", height="auto", style={"minHeight": "44px", "maxWidth": "100%", "textAlign": "left"},
    )


def labelled_input(label: str, field_id: str, value, handler, **props) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=field_id),
        rx.input(id=field_id, value=value, on_change=handler, size="3", **props),
        spacing="1",
        width="100%" if props.get("width") == "100%" else None,
    )


def _diagnoses() -> rx.Component:
    return rx.vstack(
        rx.heading("Diagnoses (ICD-10-CM)", size="4"),
        section_message(C, C.message_at == "dx"),
        rx.cond(C.diagnoses.length() == 0, rx.text("No diagnosis on this note yet.", size="2")),
        rx.foreach(
            C.diagnoses,
            lambda d: rx.hstack(
                rx.text(d.code, weight="bold"), rx.text(d.description, size="2"),
                rx.cond(EDITABLE, rx.button(d.remove_label, on_click=C.remove_diagnosis(d.code), variant="soft",
                                            color_scheme="gray", size="3", style=TOUCH)),
                align="center",
                wrap="wrap",
            ),
        ),
        rx.cond(
            EDITABLE,
            rx.vstack(
                labelled_input("Find a diagnosis (words or code)", "dx-search", C.dx_query, C.search_diagnosis,
                       debounce_timeout=300, max_length=60, width="100%", placeholder="e.g. low back pain, or M54.50"),
                rx.foreach(C.dx_hits, _hit),
                rx.cond(
                    C.from_problems.length() > 0,
                    rx.vstack(
                        rx.text("From the problem list (one tap adds it)", weight="medium", size="2"),
                        rx.flex(rx.foreach(C.from_problems, _chip), wrap="wrap", gap="6px", width="100%"),
                        spacing="1",
                        width="100%",
                    ),
                ),
                spacing="2",
                width="100%",
            ),
        ),
        width="100%",
        spacing="2",
    )


def _procedure(p) -> rx.Component:
    return rx.hstack(
        rx.text(p.code, weight="bold"), rx.text(p.units, " unit(s)"),
        rx.text(p.modifiers, size="2"),
        rx.hstack(
            rx.el.label(p.minutes_label, html_for=p.minutes_id, style={"fontSize": "14px"}),
            rx.input(id=p.minutes_id, name=p.minutes_name, value=p.minutes, input_mode="numeric", max_length=3,
                     on_change=lambda v: C.save_minutes(ChartState.note_id, p.code, v), debounce_timeout=400,
                     read_only=~EDITABLE, size="3", width="80px"),
            align="center",
        ),
        rx.cond(EDITABLE, rx.button(p.remove_label, on_click=C.remove_procedure(p.code), variant="soft",
                                    color_scheme="gray", size="3", style=TOUCH)),
        align="center",
        wrap="wrap",
    )


def _procedures() -> rx.Component:
    return rx.vstack(
        rx.heading("Procedures", size="4"),
        section_message(C, C.message_at == "px"),
        rx.cond(C.assistant_words != "", rx.text(C.assistant_words, size="2")),
        rx.cond(C.procedures.length() == 0, rx.text("No procedure on this note yet.", size="2")),
        rx.foreach(C.procedures, _procedure),
        rx.cond(
            EDITABLE,
            rx.hstack(
                labelled_input("Procedure code", "px-code", C.new_procedure, C.set_new_procedure, placeholder="97110",
                       max_length=8, width="120px"),
                labelled_input("Units", "px-units", C.new_units, C.set_new_units, input_mode="numeric", width="80px", max_length=3),
                labelled_input("Minutes (timed codes)", "px-minutes", C.new_minutes, C.set_new_minutes, input_mode="numeric",
                       width="100px", max_length=3),
                labelled_input("Modifiers", "px-modifiers", C.new_modifiers, C.set_new_modifiers, placeholder="GP, 59",
                       width="110px", max_length=20),
                rx.button("Add procedure", on_click=C.add_procedure, size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
        ),
        rx.cond(
            EDITABLE & (C.unit_warnings.length() > 0),
            rx.callout(
                rx.vstack(
                    rx.foreach(C.unit_warnings, lambda w: rx.text("Warning: ", w)),
                    rx.button("Use the units the minutes support", id="units-fix", on_click=C.apply_suggested_units,
                              size="3", variant="soft", high_contrast=True, style=TOUCH),
                    spacing="2",
                ),
                color_scheme="amber",
                high_contrast=True,
                role="note",
                aria_label="Units and minutes",
                width="100%",
            ),
        ),
        width="100%",
        spacing="2",
    )


def codes_section() -> rx.Component:
    return rx.vstack(_diagnoses(), _procedures(), width="100%", spacing="4")
