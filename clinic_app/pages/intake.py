"""The patient's intake page (/intake?token=...), phone first: the date of birth, then each
form's fields (labels above the controls, "required" in words, 44 px targets) and a drawn
signature for each consent (assets/clinic-intake.js)."""

from __future__ import annotations

import reflex as rx
from reflex_components_radix.themes.components.checkbox import Checkbox

from clinic_app.state.intake import IntakeState as S

TOUCH = {"minHeight": "44px", "minWidth": "44px"}
INTAKE_JS = "/clinic-intake.js"


def _message() -> rx.Component:
    return rx.box(
        rx.cond(
            S.message != "",
            rx.callout(S.message, color_scheme=rx.cond(S.message_is_error, "red", "green"), high_contrast=True, size="2",
                       id="intake-message"),
        ),
        role="status",
        aria_live="polite",
        width="100%",
    )


def _label(f) -> rx.Component:
    return rx.el.label(f.label, html_for=f.field_id, style={"fontWeight": "600", "display": "block", "marginBottom": "6px"})


def _text(f) -> rx.Component:
    return rx.box(
        _label(f),
        rx.text_area(id=f.field_id, value=f.value, on_change=lambda v: S.set_value(f.key, v), on_blur=S.save,
                     debounce_timeout=300, max_length=2000, rows="3", size="3", width="100%", style={"minHeight": "88px"}),
        width="100%",
    )


def _number(f) -> rx.Component:
    return rx.box(
        _label(f),
        rx.input(id=f.field_id, value=f.value, on_change=lambda v: S.set_value(f.key, v), on_blur=S.save,
                 debounce_timeout=300, input_mode="decimal", size="3", width="100%", style={"minHeight": "44px"}),
        width="100%",
    )


def _choice(f) -> rx.Component:
    return rx.box(
        _label(f),
        rx.el.select(
            rx.el.option("Choose one", value=""),
            rx.foreach(f.options, lambda o: rx.el.option(o, value=o)),
            id=f.field_id, value=f.value, on_change=lambda v: S.pick(f.key, v),
            style={**TOUCH, "width": "100%", "fontSize": "16px", "padding": "0 8px"},
        ),
        width="100%",
    )


def _legend(f) -> rx.Component:
    return rx.el.legend(f.label, style={"fontWeight": "600", "marginBottom": "6px", "padding": "0"})


_FIELDSET = {"border": "none", "padding": "0", "margin": "0", "width": "100%"}


def _scale(f) -> rx.Component:
    return rx.el.fieldset(
        _legend(f),
        rx.flex(
            rx.foreach(f.points, lambda p: rx.button(
                p, on_click=S.pick(f.key, p), size="3", aria_pressed=rx.cond(f.value == p, "true", "false"),
                variant=rx.cond(f.value == p, "solid", "outline"), style=TOUCH,
            )),
            gap="6px",
            wrap="wrap",
        ),
        id=f.field_id,
        style=_FIELDSET,
    )


def _checklist(f) -> rx.Component:
    return rx.el.fieldset(
        _legend(f),
        rx.foreach(f.options, lambda o: rx.el.label(
            # The bare checkbox (rx.checkbox wraps it in a label of its own): this row is its label and its 44 px target.
            Checkbox.create(checked=f.picked.contains(o), on_change=lambda c: S.tick(f.key, o, c), size="3"),
            o,
            style={"display": "flex", "alignItems": "center", "gap": "10px", "minHeight": "44px"},
        )),
        id=f.field_id,
        style=_FIELDSET,
    )


def _consent(f) -> rx.Component:
    canvas_id = f.field_id + "-signature"
    return rx.el.fieldset(
        _legend(f),
        rx.box(rx.text(f.text, white_space="pre-wrap"), tab_index=0, role="region", aria_label=f.label + ": the text you sign",
               style={"maxHeight": "240px", "overflowY": "auto", "border": "1px solid var(--gray-7)", "padding": "10px",
                      "borderRadius": "6px"}),
        rx.el.label("Sign in the box below with your finger (required)", html_for=canvas_id,
                    style={"display": "block", "fontWeight": "600", "margin": "10px 0 6px"}),
        rx.el.canvas(
            "Your signature for " + f.label,
            id=canvas_id, width="340", height="160", role="img", tab_index=0,
            aria_label="Signature box for " + f.label + ": draw your signature with your finger",
            custom_attrs={"data-signature": f.key},
            style={"width": "100%", "maxWidth": "340px", "height": "160px", "border": "2px solid var(--gray-9)",
                   "borderRadius": "6px", "touchAction": "none", "background": "white", "display": "block"},
        ),
        rx.hstack(
            rx.text("Not signed yet", id=canvas_id + "-status", aria_live="polite", size="2"),
            rx.button("Clear signature", type="button", variant="soft", size="3", style=TOUCH,
                      custom_attrs={"data-clear-signature": canvas_id}),
            align="center",
            justify="between",
            width="100%",
            max_width="340px",
            margin_top="6px",
        ),
        id=f.field_id,
        style=_FIELDSET,
    )


def _field(f) -> rx.Component:
    return rx.box(
        rx.match(
            f.kind,
            ("text", _text(f)),
            ("number", _number(f)),
            ("choice", _choice(f)),
            ("scale", _scale(f)),
            ("checklist", _checklist(f)),
            ("consent", _consent(f)),
            rx.fragment(),
        ),
        width="100%",
        padding_y="10px",
        border_bottom="1px solid var(--gray-5)",
    )


def _birth_date() -> rx.Component:
    return rx.el.form(
        rx.vstack(
            rx.text("To keep your details private, first confirm your date of birth."),
            rx.el.label("Your date of birth (year-month-day)", html_for="intake-birth-date", style={"fontWeight": "600"}),
            rx.input(id="intake-birth-date", type="date", value=S.birth_date_input, on_change=S.set_birth_date_input,
                     auto_complete="bday", size="3", width="100%", style={"minHeight": "44px"}, required=True),
            rx.button("Continue", type="submit", size="3", width="100%", style=TOUCH),
            spacing="3",
            width="100%",
        ),
        on_submit=lambda _form: S.confirm_birth_date(),
        width="100%",
    )


def _form() -> rx.Component:
    return rx.vstack(
        rx.text("Hello ", S.first_name, ". Your visit: ", S.visit_words, "."),
        rx.heading(S.form_title, size="5", as_="h2"),
        rx.cond(S.form_words != "", rx.text(S.form_words, size="2")),
        rx.text("Fields marked (required) must be answered before you submit. Your answers are saved as you go.", size="2"),
        rx.foreach(S.fields, _field),
        rx.text(S.saved_words, size="2", aria_live="polite", id="intake-saved"),
        _message(),
        rx.button("Sign and submit " + S.form_title, on_click=S.submit, loading=S.busy, disabled=S.busy, size="3",
                  width="100%", style=TOUCH, id="intake-submit"),
        rx.button("Save and finish later", on_click=S.save, variant="soft", size="3", width="100%", style=TOUCH),
        spacing="3",
        width="100%",
    )


def intake_page() -> rx.Component:
    return rx.box(
        rx.el.main(
            rx.vstack(
                rx.heading("Your forms before your visit", size="6", as_="h1"),
                rx.match(
                    S.stage,
                    ("birth_date", rx.vstack(_birth_date(), _message(), width="100%")),
                    ("form", _form()),
                    ("done", rx.vstack(_message(), rx.text("Your forms for this visit are complete. You can close this page."),
                                       width="100%")),
                    ("closed", _message()),
                    rx.text("Loading..."),
                ),
                spacing="4",
                width="100%",
            ),
        ),
        rx.script(src=INTAKE_JS),
        max_width="600px",
        margin="0 auto",
        padding="16px",
    )
