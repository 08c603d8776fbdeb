"""The new-patient form: labelled fields, each with its own message when it is wrong."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.record_sections import record_sections
from clinic_app.services.frontdesk.patients import CONSENT_LABELS
from clinic_app.state.registration import RegistrationState as R


def _problem(name: str) -> rx.Component:
    return rx.cond(
        R.problems.contains(name),
        rx.text(R.problems[name], size="1", color_scheme="red", id=f"reg-{name}-problem"),
    )


def text_field(name: str, label: str, *, type_: str = "text", max_length: int = 120, width: str = "100%") -> rx.Component:
    """A labelled input bound to one field of the form."""
    return rx.vstack(
        rx.el.label(label, html_for=f"reg-{name}"),
        rx.input(
            id=f"reg-{name}", type=type_, value=R.form[name], max_length=max_length, width=width,
            on_change=lambda value: R.set_field(name, value),
            aria_invalid=rx.cond(R.problems.contains(name), "true", "false"),
        ),
        _problem(name),
        spacing="1",
        width="100%",
    )


def choice_field(name: str, label: str, options) -> rx.Component:
    """A labelled select bound to one field of the form."""
    return rx.vstack(
        rx.el.label(label, html_for=f"reg-{name}"),
        rx.select.root(
            rx.select.trigger(id=f"reg-{name}", aria_label=label),
            rx.select.content(rx.foreach(options, lambda o: rx.select.item(o.label, value=o.value))),
            value=R.form[name],
            on_change=lambda value: R.set_field(name, value),
        ),
        _problem(name),
        spacing="1",
        width="100%",
    )


def _section(title: str, *children: rx.Component) -> rx.Component:
    return rx.el.fieldset(
        rx.el.legend(rx.text(title, weight="bold", size="2")),
        rx.vstack(*children, spacing="2", width="100%"),
        style={"border": "1px solid var(--gray-5)", "borderRadius": "6px", "padding": "8px", "width": "100%"},
    )


def _history() -> rx.Component:
    return _section(
        "History of changes",
        rx.cond(R.history.length() == 0, rx.text("No changes since registration.", size="1")),
        rx.foreach(R.history, lambda h: rx.text(h.when, " ", h.text, size="1")),
    )


def _insurance(n: int) -> rx.Component:
    """The primary (1) or secondary (2) insurance taken at registration; none: self-pay."""
    word = "Primary" if n == 1 else "Secondary"
    key = f"cov{n}"
    return rx.vstack(
        choice_field(f"{key}_payer", f"{word} insurer", R.payer_options),
        rx.cond(
            R.form[f"{key}_payer"] != "none",
            rx.vstack(
                rx.hstack(text_field(f"{key}_member", f"{word} member id", max_length=40),
                          text_field(f"{key}_group", "Group number", max_length=40), width="100%"),
                rx.hstack(text_field(f"{key}_from", "Coverage starts", type_="date"),
                          text_field(f"{key}_copay", "Copay ($)", max_length=12), width="100%"),
                choice_field(f"{key}_relationship", "The subscriber is", R.cov_relationships),
                rx.cond(
                    R.form[f"{key}_relationship"] != "self",
                    rx.vstack(
                        rx.hstack(text_field(f"{key}_first", "Subscriber first name", max_length=80),
                                  text_field(f"{key}_last", "Subscriber last name", max_length=80), width="100%"),
                        rx.hstack(text_field(f"{key}_birth", "Subscriber date of birth", type_="date"),
                                  choice_field(f"{key}_sex", "Subscriber's sex", R.sexes), width="100%"),
                        text_field(f"{key}_street", "Subscriber street", max_length=55),
                        rx.hstack(text_field(f"{key}_city", "City", max_length=30),
                                  text_field(f"{key}_state", "State (2 letters)", max_length=2),
                                  text_field(f"{key}_zip", "ZIP code", max_length=10), width="100%"),
                        width="100%",
                    ),
                ),
                width="100%",
                spacing="2",
            ),
        ),
        _problem(f"coverage_{n}"),
        width="100%",
        spacing="2",
    )


def _fields() -> list[rx.Component]:
    """The form's sections: who, how to reach them, insurance (new patients), emergency
    contact, who pays, consents."""
    return [
        _section(
            "Patient",
            text_field("first_name", "First name", max_length=80),
            text_field("last_name", "Last name", max_length=80),
            text_field("birth_date", "Date of birth", type_="date"),
            choice_field("sex", "Sex (administrative, as the insurer has it)", R.sexes),
            rx.cond(
                R.editing_id != 0,
                rx.text("MRN ", R.form["mrn"], " (does not change)", size="2"),
                text_field("mrn", "MRN (leave empty for a new one)", max_length=20),
            ),
        ),
        _section(
            "Contact",
            text_field("phone", "Phone", type_="tel", max_length=32),
            text_field("email", "Email", type_="email"),
            text_field("address_line", "Address", max_length=200),
            rx.hstack(text_field("city", "City", max_length=80), text_field("region", "State", max_length=40), width="100%"),
            text_field("postal_code", "ZIP code", max_length=12),
            choice_field("preferred_channel", "Preferred contact", R.channels),
            rx.checkbox(
                "Opted out of reminders",
                checked=R.form["reminders_opt_out"] == "yes",
                on_change=lambda value: R.set_field("reminders_opt_out", value),
            ),
        ),
        rx.cond(
            R.editing_id == 0,
            _section("Insurance", _insurance(1), rx.cond(R.form["cov1_payer"] != "none", _insurance(2))),
        ),
        _section(
            "Emergency contact",
            text_field("emergency_name", "Emergency contact name"),
            text_field("emergency_relationship", "Relationship to the patient", max_length=40),
            text_field("emergency_phone", "Emergency contact phone", type_="tel", max_length=32),
        ),
        _section(
            "Guarantor (responsible for the bill)",
            choice_field("guarantor_relationship", "Guarantor", R.relationships),
            rx.cond(
                R.form["guarantor_relationship"] != "self",
                rx.vstack(
                    text_field("guarantor_name", "Guarantor name"),
                    text_field("guarantor_phone", "Guarantor phone", type_="tel", max_length=32),
                    width="100%",
                ),
            ),
        ),
        _section(
            "Consents (date given)",
            *[text_field(f"consent_{kind}", label, type_="date") for kind, label in CONSENT_LABELS.items()],
        ),
    ]


def registration_form(context: str = "board", width: str = "360px") -> rx.Component:
    """The whole panel; shown while RegistrationState.panel_open in this ``context`` (the
    board's panel, a profile's edit, the new-patient page: its sections in two columns)."""
    sections = _fields()
    body = (
        rx.grid(*sections, columns=rx.breakpoints(initial="1", md="2"), spacing="3", width="100%", align="start")
        if context == "page" else rx.vstack(*sections, spacing="2", width="100%")
    )
    return rx.cond(
        R.panel_open & (R.context == context),
        rx.card(
            rx.vstack(
                rx.heading(rx.cond(R.editing_id != 0, "Edit patient details", "Register a new patient"), size="4", as_="h2"),
                rx.cond(R.message != "", rx.callout(R.message, color_scheme=rx.cond(R.duplicate, "amber", "red"), role="alert", size="1")),
                body,
                rx.cond(
                    R.editing_id != 0,
                    rx.vstack(
                        rx.hstack(
                            rx.button("Save changes", on_click=R.save_changes, size="3"),
                            rx.button("Close edit form", on_click=R.close, variant="ghost", size="3"),
                            wrap="wrap",
                        ),
                        record_sections() if context == "board" else rx.fragment(),
                        _history(),
                        width="100%",
                    ),
                    rx.hstack(
                        rx.button("Register patient", on_click=R.register(False), size="3"),
                        rx.cond(R.duplicate, rx.button("Register anyway", on_click=R.register(True), color_scheme="amber", size="3")),
                        rx.button("Close registration form", on_click=R.close, variant="ghost", size="3"),
                        wrap="wrap",
                    ),
                ),
                spacing="2",
                align="start",
                width="100%",
            ),
            width=width,
        ),
    )
