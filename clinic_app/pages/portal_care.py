"""The portal's "My care" page (/portal/care), phone first (390x844): visits, the home
exercise programme (and its PDF), and the questionnaires the clinician asked for."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.fields import section_message
from clinic_app.pages.portal import FIELD_STYLE, TOUCH, shell
from clinic_app.state.portal_care import PortalCareState as C

CARD = {"listStyle": "none", "border": "1px solid var(--gray-6)", "borderRadius": "8px", "padding": "12px",
        "marginBottom": "10px", "background": "var(--color-panel-solid)"}


def _visit(v) -> rx.Component:
    return rx.el.li(
        rx.vstack(
            rx.text(v.when, weight="bold", size="3"),
            rx.text(v.what, " with ", v.who, size="2"),
            rx.text(v.where, size="2", color_scheme="gray"),
            rx.text("Status: ", rx.el.strong(v.status), size="2"),
            spacing="1", align="start",
        ),
        style=CARD,
    )


def _exercise(e) -> rx.Component:
    return rx.el.li(
        rx.vstack(
            rx.text(e.name, weight="bold", size="3"),
            rx.cond(e.dosage != "", rx.text("How much: ", e.dosage, size="2")),
            rx.cond(e.instructions != "", rx.text(e.instructions, size="2")),
            spacing="1", align="start",
        ),
        style=CARD,
    )


def _document(d) -> rx.Component:
    return rx.el.li(
        rx.vstack(
            rx.text(d.title, weight="bold", size="3"),
            rx.text("Visit date: ", d.day, size="2", color_scheme="gray"),
            # reload_document: the browser fetches the file itself (a client-side route would not).
            rx.el.a("Download (PDF)", href=d.url, download=True, reload_document=True, aria_label=d.link_label,
                    style={**TOUCH, "display": "inline-flex", "alignItems": "center", "fontWeight": "600",
                           "color": "var(--accent-11)"}),
            spacing="1", align="start",
        ),
        style=CARD,
    )


def _asked(a) -> rx.Component:
    return rx.el.li(
        rx.vstack(
            rx.text(a.name, " (", a.code, ")", weight="bold", size="3"),
            rx.text("Asked on ", a.asked, size="2", color_scheme="gray"),
            rx.text("Status: ", rx.el.strong(a.status), size="2"),
            rx.cond(a.waiting,
                    rx.button("Answer", on_click=C.start_answer(a.id), aria_label=a.start_label, size="3",
                              style=TOUCH)),
            spacing="1", align="start",
        ),
        style=CARD,
    )


def _answer_row(r) -> rx.Component:
    return rx.vstack(
        rx.cond(
            r.label_editable,
            rx.vstack(
                rx.el.label("Activity " + (r.index + 1).to_string() + " you find hard",
                            html_for="answer-label-" + r.index.to_string()),
                rx.el.input(id="answer-label-" + r.index.to_string(), value=r.label, max_length=80,
                            on_change=lambda v: C.set_label(r.index, v), style=FIELD_STYLE),
                spacing="1", width="100%",
            ),
        ),
        rx.el.label(r.field_label, html_for="answer-value-" + r.index.to_string()),
        rx.el.input(id="answer-value-" + r.index.to_string(), value=r.value, input_mode="numeric", max_length=4,
                    on_change=lambda v: C.set_value(r.index, v), style=FIELD_STYLE,
                    aria_describedby="answer-hint-" + r.index.to_string()),
        rx.text(r.hint, id="answer-hint-" + r.index.to_string(), size="1", color_scheme="gray"),
        spacing="1", width="100%",
    )


def _answer_form() -> rx.Component:
    return rx.cond(
        C.answering_id != 0,
        rx.el.section(
            rx.heading(C.answering_name, size="4", as_="h2", margin_bottom="8px"),
            rx.vstack(
                rx.foreach(C.answer_rows, _answer_row),
                rx.cond(C.can_add_row, rx.button("Add an activity", on_click=C.add_row, variant="soft", size="3",
                                                 style=TOUCH)),
                rx.hstack(
                    rx.button("Send my answers", on_click=C.send_answer, size="3", style=TOUCH),
                    rx.button("Not now", on_click=C.stop_answer, variant="soft", size="3", style=TOUCH),
                    spacing="3", wrap="wrap",
                ),
                spacing="3", width="100%",
            ),
            aria_label="Answer a questionnaire",
            style={"border": "2px solid var(--accent-8)", "borderRadius": "8px", "padding": "12px",
                   "marginBottom": "16px"},
        ),
    )


def portal_care() -> rx.Component:
    return shell(
        "My care",
        section_message(C.message, C.message_is_error),
        _answer_form(),
        rx.heading("Questionnaires from your clinician", size="4", as_="h2", margin_bottom="8px"),
        rx.cond(
            C.asked.length() > 0,
            rx.el.ul(rx.foreach(C.asked, _asked), style={"padding": "0"}),
            rx.text("Nothing to fill in right now.", margin_bottom="8px"),
        ),
        rx.heading("Documents from the clinic", size="4", as_="h2", margin_top="20px", margin_bottom="8px"),
        rx.cond(
            C.documents.length() > 0,
            rx.el.ul(rx.foreach(C.documents, _document), style={"padding": "0"}),
            rx.text("Your clinician has not shared any documents yet."),
        ),
        rx.heading("Home exercises", size="4", as_="h2", margin_top="20px", margin_bottom="8px"),
        rx.cond(
            C.exercises.length() > 0,
            rx.vstack(
                rx.el.ul(rx.foreach(C.exercises, _exercise), style={"padding": "0", "width": "100%"}),
                rx.button("Download my exercises (PDF)", on_click=C.download_programme, variant="soft", size="3",
                          style=TOUCH),
                spacing="2", width="100%",
            ),
            rx.text("Your clinician has not given you home exercises yet."),
        ),
        rx.heading("Upcoming visits", size="4", as_="h2", margin_top="20px", margin_bottom="8px"),
        rx.cond(
            C.upcoming.length() > 0,
            rx.el.ul(rx.foreach(C.upcoming, _visit), style={"padding": "0"}),
            rx.text("You have no upcoming visits."),
        ),
        rx.heading("Past visits", size="4", as_="h2", margin_top="20px", margin_bottom="8px"),
        rx.cond(
            C.past.length() > 0,
            rx.el.ul(rx.foreach(C.past, _visit), style={"padding": "0"}),
            rx.text("No past visits yet."),
        ),
    )
