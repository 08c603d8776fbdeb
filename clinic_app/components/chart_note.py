"""The chart's Note section: the SOAP (or DAP) text, the template's fields, signatures and
addenda. Each field's refusal shows under it."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.chart_pending import PENDING
from clinic_app.state.chart import ChartState
from clinic_app.state.chart_body import BodyChartSection
from clinic_app.state.chart_note import NoteSection as N

TOUCH = {"minHeight": "44px", "minWidth": "44px"}
EDITABLE = (~ChartState.signed) & ChartState.own_note


def field_message(key) -> rx.Component:
    """The section's message under the field it concerns (announced at once)."""
    return rx.cond(
        (N.error_field == key) & (N.message != ""),
        rx.text(N.message, role="alert", color_scheme="red", size="2", weight="medium"),
    )


def _conflict(field: str) -> rx.Component:
    return rx.cond(
        N.conflict_field == field,
        rx.callout(
            rx.vstack(
                rx.text("Saved on the other device:", weight="bold"),
                rx.text(N.conflict_text, white_space="pre-wrap"),
                rx.hstack(
                    rx.button("Keep my text", on_click=N.keep_my_text(PENDING), size="3", style=TOUCH),
                    rx.button("Use the other device's text", on_click=N.use_other_text, size="3", variant="soft",
                              style=TOUCH),
                    wrap="wrap",
                ),
                spacing="2",
            ),
            color_scheme="amber",
            high_contrast=True,
            aria_label="Edit conflict",
            width="100%",
        ),
    )


def _soap(label, field: str, value) -> rx.Component:
    field_id = f"soap-{field}"
    return rx.vstack(
        rx.el.label(label, html_for=field_id, style={"fontWeight": "600"}),
        rx.text_area(
            id=field_id,
            name=f"note:{field}",
            value=value,
            on_change=lambda text: N.save_text(ChartState.note_id, field, text),
            debounce_timeout=400,
            read_only=~EDITABLE,
            rows="4",
            size="3",
            width="100%",
            max_length=20000,
        ),
        field_message(field),
        _conflict(field),
        width="100%",
        spacing="1",
    )


def _field(f) -> rx.Component:
    """One structured template field, drawn by its kind (every control 44 px on a tablet)."""
    control = rx.match(
        f.kind,
        ("body_chart", rx.vstack(
            rx.cond(BodyChartSection.body_marks.length() == 0, rx.text("No regions marked yet."),
                    rx.el.ul(rx.foreach(BodyChartSection.body_marks, lambda m: rx.el.li(m)))),
            rx.button("Mark regions on the body chart", on_click=ChartState.show_section("body"), variant="soft",
                      size="3", style=TOUCH),
            spacing="1",
        )),
        ("scale", rx.hstack(
            rx.foreach(f.options, lambda n: rx.button(
                n, on_click=N.save_field(ChartState.note_id, f.key, n), variant=rx.cond(f.value == n, "solid", "outline"),
                aria_label=f.label + " " + n, aria_pressed=rx.cond(f.value == n, "true", "false"), size="3",
                style={"minWidth": "44px", "minHeight": "44px", "padding": "0"},
            )),
            spacing="1", wrap="wrap", role="group", aria_label=f.label,
        )),
        ("choice", rx.select.root(
            rx.select.trigger(id=f.field_id, aria_label=f.label, placeholder="Choose", style={"minHeight": "44px"}),
            rx.select.content(rx.foreach(f.options, lambda o: rx.select.item(o, value=o))),
            value=f.value, on_change=lambda v: N.save_field(ChartState.note_id, f.key, v), size="3",
        )),
        ("checklist", rx.vstack(
            rx.foreach(f.options, lambda o: rx.el.label(
                rx.checkbox(checked=f.checked.contains(o), on_change=lambda c: N.toggle_check(f.key, o, c), size="3"),
                rx.text(o),
                style={"display": "flex", "alignItems": "center", "gap": "8px", "minHeight": "44px"},
            )),
            spacing="0", role="group", aria_label=f.label,
        )),
        rx.input(
            id=f.field_id, name=f.name, value=f.value, on_change=lambda v: N.save_field(ChartState.note_id, f.key, v),
            debounce_timeout=400, input_mode=rx.cond(f.kind == "number", "decimal", "text"), size="3", max_length=2000,
            width="100%", read_only=~EDITABLE,
        ),
    )
    return rx.vstack(
        rx.cond(
            (f.kind == "scale") | (f.kind == "checklist") | (f.kind == "body_chart"),
            rx.text(f.label, weight="medium"),
            rx.el.label(f.label, html_for=f.field_id, style={"fontWeight": "500"}),
        ),
        control,
        field_message("field:" + f.key),
        spacing="1",
        width="100%",
    )


def _template() -> rx.Component:
    return rx.vstack(
        rx.cond(
            EDITABLE,
            rx.hstack(
                rx.el.label("Note template", html_for="note-template", style={"fontWeight": "600"}),
                rx.select.root(
                    rx.select.trigger(id="note-template", aria_label="Note template", style={"minHeight": "44px"}),
                    rx.select.content(rx.foreach(N.template_options, lambda t: rx.select.item(t.name, value=t.code))),
                    value=N.template_code,
                    on_change=lambda code: N.choose_template(code, PENDING),
                    size="3",
                ),
                rx.button("Copy forward from the last signed note", on_click=ChartState.copy_forward(PENDING),
                          variant="soft", size="3", style=TOUCH),
                align="center",
                wrap="wrap",
            ),
        ),
        rx.cond(
            N.fields.length() > 0,
            rx.el.fieldset(
                rx.el.legend("Structured findings", style={"fontWeight": "600"}),
                rx.vstack(rx.foreach(N.fields, _field), spacing="3", width="100%"),
                disabled=~EDITABLE,
                style={"border": "1px solid var(--gray-6)", "borderRadius": "8px", "padding": "8px 12px", "width": "100%"},
            ),
        ),
        width="100%",
        spacing="2",
    )


def _sharing() -> rx.Component:
    """The visit summary in the patient's portal: share it, or stop sharing it (own note only)."""
    return rx.vstack(
        rx.text(N.summary_shared_line, size="2", id="summary-sharing", role="status"),
        rx.cond(
            ChartState.own_note,
            rx.cond(
                N.summary_shared,
                rx.button("Stop sharing", on_click=N.stop_sharing, variant="soft", color_scheme="gray", size="3",
                          style=TOUCH, aria_describedby="summary-sharing"),
                rx.button("Share visit summary with the patient", on_click=N.share_summary, size="3", style=TOUCH,
                          aria_describedby="summary-sharing"),
            ),
        ),
        spacing="2",
        width="100%",
    )


def _signed() -> rx.Component:
    """Who signed and co-signed, addenda below the original, and the form for one."""
    return rx.cond(
        ChartState.signed,
        rx.vstack(
            rx.callout(
                rx.vstack(rx.foreach(N.signature_lines, rx.text), rx.text("The note is locked."), spacing="1"),
                color_scheme="green",
                high_contrast=True,
                aria_label="Signatures",
                width="100%",
            ),
            _sharing(),
            rx.heading("Addenda", size="4"),
            rx.cond(N.addenda.length() == 0, rx.text("No addenda.", size="2")),
            rx.foreach(
                N.addenda,
                lambda a: rx.box(
                    rx.text(a.heading, weight="bold", size="2"),
                    rx.text(a.text, white_space="pre-wrap"),
                    border_left="4px solid var(--gray-7)",
                    padding_left="8px",
                    width="100%",
                ),
            ),
            rx.el.label("New addendum", html_for="addendum-text", style={"fontWeight": "600"}),
            rx.text_area(id="addendum-text", value=N.new_addendum, on_change=N.set_new_addendum,
                         rows="3", size="3", width="100%", max_length=5000),
            rx.button("Add addendum", on_click=N.add_addendum, size="3", style=TOUCH),
            rx.cond((N.message != "") & (N.error_field == ""),
                    rx.text(N.message, role=rx.cond(N.message_is_error, "alert", "status"),
                            color_scheme=rx.cond(N.message_is_error, "red", "green"), size="2")),
            width="100%",
            spacing="2",
        ),
    )


def note_section() -> rx.Component:
    return rx.vstack(
        rx.cond(EDITABLE & (N.message != "") & (N.error_field == ""),
                rx.text(N.message, role=rx.cond(N.message_is_error, "alert", "status"),
                        color_scheme=rx.cond(N.message_is_error, "red", "green"), size="2")),
        _template(),
        _soap(N.label_subjective, "subjective", N.subjective),
        rx.cond(N.label_objective != "", _soap(N.label_objective, "objective", N.objective)),
        _soap(N.label_assessment, "assessment", N.assessment),
        _soap(N.label_plan, "plan", N.plan),
        _signed(),
        width="100%",
        spacing="3",
    )
