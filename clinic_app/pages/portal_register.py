"""Patients registering themselves (/portal/register, phone first), the e-mail's link
(/portal/register/verify), and the desk's list of portal registrations (/portal-registrations)."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.fields import section_message
from clinic_app.components.layout import frame
from clinic_app.pages.portal import FIELD_STYLE, TOUCH, public_shell, text_field
from clinic_app.state.portal_register import RegisterState, RegistrationsState, VerifyState

R = RegisterState
D = RegistrationsState


def _sent() -> rx.Component:
    return rx.callout(
        rx.text("Thank you. We sent an e-mail to ", rx.el.strong(R.sent_to),
                ". Follow its link to confirm your address (it works for 72 hours). If no e-mail arrives, "
                "check the address and your spam folder, or call the clinic."),
        color_scheme="green", role="status", high_contrast=True,
    )


def _form() -> rx.Component:
    return rx.el.form(
        rx.vstack(
            text_field("First name", "first_name", auto_complete="given-name", required=True, max_length=80),
            text_field("Last name", "last_name", auto_complete="family-name", required=True, max_length=80),
            text_field("Date of birth", "birth_date", type="date", auto_complete="bday", required=True),
            text_field("E-mail", "email", type="email", auto_complete="email", required=True, max_length=120),
            text_field("Phone", "phone", type="tel", auto_complete="tel", required=True, max_length=32),
            rx.vstack(
                rx.el.label("Location you visit", html_for="location_id"),
                rx.el.select(rx.foreach(R.locations, lambda o: rx.el.option(o.label, value=o.value)),
                             id="location_id", name="location_id", value=R.location_id, on_change=R.set_location,
                             style=FIELD_STYLE),
                spacing="1", width="100%",
            ),
            rx.text("Choose a password of at least 10 characters, mixing letters with digits, spaces or symbols.",
                    size="2"),
            text_field("Password", "password", type="password", auto_complete="new-password", required=True,
                       max_length=256),
            text_field("Password again", "password_again", type="password", auto_complete="new-password",
                       required=True, max_length=256),
            rx.box(rx.cond(R.error != "", rx.callout(R.error, color_scheme="red", high_contrast=True)),
                   role="alert", aria_live="assertive", width="100%"),
            rx.button("Register", type="submit", size="3", width="100%", loading=R.sending, disabled=R.sending,
                      style=TOUCH),
            spacing="3", width="100%",
        ),
        on_submit=R.submit, prevent_default=True, reset_on_submit=False, id="register-form",
    )


def portal_register() -> rx.Component:
    return public_shell(
        "Register for the patient portal",
        rx.cond(
            R.sent_to != "",
            _sent(),
            rx.cond(
                R.locations.length() > 0,
                rx.vstack(
                    rx.text("The clinic checks your details before your account opens; we e-mail you then.",
                            size="2"),
                    _form(),
                    spacing="3", width="100%",
                ),
                rx.text("Online registration is not offered at the moment; please call the clinic to register."),
            ),
        ),
        rx.text("Already registered? ", rx.link("Sign in", href="/portal",
                                                  style={**TOUCH, "display": "inline-flex", "alignItems": "center"}),
                size="2", margin_top="12px"),
    )


def portal_register_verify() -> rx.Component:
    return public_shell(
        "Confirm your e-mail",
        rx.cond(
            VerifyState.error != "",
            rx.callout(VerifyState.error, color_scheme="red", role="alert", high_contrast=True),
            rx.cond(
                VerifyState.done != "",
                rx.callout(VerifyState.done, color_scheme="green", role="status", high_contrast=True),
                rx.text("Checking your link..."),
            ),
        ),
    )


def _match(row, m) -> rx.Component:
    return rx.el.li(
        rx.hstack(
            rx.vstack(rx.text(m.label, size="2"), rx.text(m.why, size="1", color="var(--gray-11)"), spacing="0"),
            rx.button("Link to this record", on_click=D.link_record(row.id, m.patient_id),
                      aria_label="Link to this record: " + m.label + " (for " + row.name + ")",
                      variant="soft", size="2", min_height="44px", disabled=D.busy),
            align="center", spacing="3", wrap="wrap",
        ),
        style={"listStyle": "none", "marginBottom": "6px"},
    )


def _registration(row) -> rx.Component:
    return rx.el.article(
        rx.heading(row.name, size="4", as_="h2"),
        rx.text("Born ", row.birth_date, " · ", row.email, " · ", row.phone, size="2"),
        rx.text("Location: ", row.location, " · E-mail confirmed ", row.verified, size="2", color="var(--gray-11)"),
        rx.cond(
            row.matches.length() > 0,
            rx.box(
                rx.text("May already be on file:", weight="bold", size="2", margin_top="6px"),
                rx.el.ul(rx.foreach(row.matches, lambda m: _match(row, m)), style={"padding": "0", "margin": "4px 0"}),
            ),
            rx.text("No patient on file matches the name and birth date, e-mail or phone.", size="2",
                    margin_top="6px"),
        ),
        rx.hstack(
            rx.button("Create new patient record", on_click=D.create_record(row.id),
                      aria_label="Create new patient record for " + row.name,
                      size="2", min_height="44px", disabled=D.busy),
            rx.button("Decline", on_click=D.start_decline(row.id), aria_label="Decline " + row.name, variant="soft",
                      color_scheme="red", size="2", min_height="44px"),
            spacing="3", margin_top="8px", wrap="wrap",
        ),
        rx.cond(
            D.declining_id == row.id,
            rx.box(
                rx.el.label("Reason for declining (kept on the record; the patient is asked to call)",
                            html_for="decline-reason", style={"fontSize": "14px"}),
                rx.input(id="decline-reason", value=D.decline_reason, on_change=D.set_decline_reason, max_length=300,
                         width="100%", size="2"),
                rx.hstack(
                    rx.button("Decline registration", on_click=D.decline, color_scheme="red", size="2",
                              min_height="44px", aria_label="Decline registration of " + row.name),
                    rx.button("Keep it", on_click=D.stop_decline, variant="ghost", size="2", min_height="44px"),
                    margin_top="6px",
                ),
                border="1px solid var(--red-7)", border_radius="6px", padding="8px", margin_top="8px",
            ),
        ),
        style={"border": "1px solid var(--gray-6)", "borderRadius": "8px", "padding": "12px", "width": "100%",
               "background": "var(--color-panel-solid)"},
    )


def registrations_page() -> rx.Component:
    return frame(
        "Portal registrations",
        rx.text("Patients who registered in the portal and confirmed their e-mail. Create a record for them, link "
                "them to the record they already have, or decline.", size="2", margin_bottom="8px"),
        section_message(D.message, D.message_is_error),
        rx.cond(
            D.rows.length() == 0,
            rx.text("No registrations are waiting.", size="3"),
            rx.vstack(rx.foreach(D.rows, _registration), spacing="3", max_width="900px", width="100%"),
        ),
    )
