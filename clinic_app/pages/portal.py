"""The patient portal's pages, for a phone first (390x844) and a desktop: sign-in, welcome
(set a password from the invitation), home (visits; move, cancel), book, check-in.

Every control is at least 44 px high, every field has its visible label, status is a word.
The sign-in and welcome forms are sent to api/portal.py by /clinic-login.js (the server sets
the HttpOnly cookie), as the staff's sign-in page is.
"""

from __future__ import annotations

import reflex as rx
from reflex.config import get_config

from clinic_app.components.fields import section_message
from clinic_app.state.portal import CheckinState, PortalState, PortalWho, WelcomeState

P = PortalState
TOUCH = {"minHeight": "44px"}
FIELD_STYLE = {"height": "44px", "width": "100%", "padding": "0 10px", "fontSize": "16px",
               "border": "1px solid var(--gray-8)", "borderRadius": "6px", "background": "var(--color-surface)",
               "color": "var(--gray-12)"}


def _whose_records() -> rx.Component:
    """An account holder with dependants picks whose records the pages show; the page loads
    again for that person (state/portal.py PortalWho)."""
    return rx.vstack(
        rx.cond(
            PortalWho.people.length() > 1,
            rx.hstack(
                rx.el.label("Whose records", html_for="whose-records", style={"fontWeight": "600"}),
                rx.el.select(
                    rx.foreach(PortalWho.people, lambda o: rx.el.option(o.label, value=o.value)),
                    id="whose-records", value=PortalWho.acting_for, on_change=PortalWho.switch,
                    style={**FIELD_STYLE, "width": "auto", "minWidth": "12em"},
                ),
                spacing="2", align="center", wrap="wrap",
            ),
        ),
        # Also when the last dependant's access has just ended (then the select is gone).
        rx.cond(PortalWho.showing != "", rx.text(PortalWho.showing, size="2", role="status", aria_live="polite")),
        spacing="1",
    )


def _shell(title: str | rx.Var, *children: rx.Component, signed_in: bool = True) -> rx.Component:
    """The portal's frame: a narrow column that fills a phone and centres on a desktop."""
    nav = rx.el.nav(
        rx.hstack(
            rx.link("My visits", href="/portal/home", style={**TOUCH, "display": "inline-flex", "alignItems": "center"}),
            rx.link("Book a visit", href="/portal/book", style={**TOUCH, "display": "inline-flex", "alignItems": "center"}),
            rx.link("My care", href="/portal/care", style={**TOUCH, "display": "inline-flex", "alignItems": "center"}),
            rx.link("My details", href="/portal/profile", style={**TOUCH, "display": "inline-flex", "alignItems": "center"}),
            rx.link("Messages", href="/portal/messages", style={**TOUCH, "display": "inline-flex", "alignItems": "center"}),
            rx.link("Pay", href="/portal/pay", style={**TOUCH, "display": "inline-flex", "alignItems": "center"}),
            rx.el.form(
                rx.button("Sign out", type="submit", variant="soft", size="3", style=TOUCH),
                action="/portal/auth/sign-out", method="post",
            ),
            spacing="4", align="center", wrap="wrap",
        ),
        aria_label="Portal",
    )
    return rx.box(
        rx.el.header(
            rx.vstack(
                rx.text("Patient portal", weight="bold", size="4"),
                nav if signed_in else rx.fragment(),
                _whose_records() if signed_in else rx.fragment(),
                spacing="1",
            ),
            padding="8px 16px", border_bottom="1px solid var(--gray-5)",
        ),
        rx.el.main(
            rx.heading(title, size="6", margin_bottom="12px", as_="h1"),
            *children,
            padding="16px", max_width="640px", margin="0 auto",
        ),
    )


def shell(title: str | rx.Var, *children: rx.Component) -> rx.Component:
    """The signed-in portal's frame, for the portal's other pages (pages/portal_*.py)."""
    return _shell(title, *children)


def public_shell(title: str | rx.Var, *children: rx.Component) -> rx.Component:
    """The portal's frame for pages before sign-in (no portal navigation)."""
    return _shell(title, *children, signed_in=False)


def _credentials_form(form_id_action: str, *fields: rx.Component, button: str) -> rx.Component:
    return rx.el.form(
        rx.vstack(
            *fields,
            rx.el.p(id="sign-in-error", role="alert", aria_live="assertive",
                    style={"color": "var(--red-11)", "margin": "0", "minHeight": "1.5em"}),
            rx.button(button, type="submit", size="3", width="100%", style=TOUCH),
            spacing="3", width="100%",
        ),
        id="sign-in-form", action=form_id_action, method="post",
        custom_attrs={"data-backend": get_config().api_url},
    )


def text_field(label: str, field_id: str, **props) -> rx.Component:
    """A portal input with its visible label above it, 44 px high."""
    return _field(label, field_id, **props)


def _field(label: str, field_id: str, **props) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=field_id),
        rx.el.input(id=field_id, name=field_id, style=FIELD_STYLE, **props),
        spacing="1", width="100%",
    )


def portal_sign_in() -> rx.Component:
    return _shell(
        "Sign in to your patient portal",
        _credentials_form(
            "/portal/auth/sign-in",
            _field("E-mail", "email", type="email", auto_complete="email", required=True, max_length=120),
            _field("Password", "password", type="password", auto_complete="current-password", required=True,
                   max_length=256),
            button="Sign in",
        ),
        rx.text("New here? The clinic sends you an invitation by e-mail, or ",
                rx.link("register online", href="/portal/register", style={**TOUCH, "display": "inline-flex",
                                                                          "alignItems": "center"}),
                ".", size="2", margin_top="12px"),
        rx.script(src="/clinic-login.js"),
        signed_in=False,
    )


def portal_welcome() -> rx.Component:
    W = WelcomeState
    return _shell(
        "Welcome: set your password",
        rx.cond(
            W.error != "",
            rx.callout(W.error, color_scheme="red", role="alert", high_contrast=True),
            rx.cond(
                W.email != "",
                rx.vstack(
                    rx.text("You will sign in with ", rx.el.strong(W.email), "."),
                    rx.text("Use at least 10 characters, mixing letters with digits, spaces or symbols.", size="2",
                            color_scheme="gray"),
                    _credentials_form(
                        "/portal/auth/welcome",
                        rx.el.input(type="hidden", name="token", value=W.token),
                        _field("New password", "password", type="password", auto_complete="new-password",
                               required=True, max_length=256),
                        _field("New password again", "password_again", type="password", auto_complete="new-password",
                               required=True, max_length=256),
                        button="Set password and sign in",
                    ),
                    spacing="3", width="100%",
                ),
                rx.text("Checking your link..."),
            ),
        ),
        rx.script(src="/clinic-login.js"),
        signed_in=False,
    )


def _visit_card(v, *, actions: bool) -> rx.Component:
    return rx.el.li(
        rx.vstack(
            rx.text(v.when, weight="bold", size="3"),
            rx.text(v.what, " with ", v.who, size="2"),
            rx.text(v.where, size="2", color_scheme="gray"),
            rx.text("Status: ", rx.el.strong(v.status), size="2"),
            rx.cond(
                actions,
                rx.cond(
                    v.can_change,
                    rx.hstack(
                        rx.button("Move", on_click=P.start_move(v.id), aria_label=v.move_label, variant="soft",
                                  size="3", style=TOUCH),
                        rx.button("Cancel visit", on_click=P.ask_cancel(v.id), aria_label=v.cancel_label,
                                  color_scheme="red", variant="soft", size="3", style=TOUCH),
                        spacing="3",
                    ),
                    rx.cond(v.status == "Booked",
                            rx.text("To change this visit, please call the clinic.", size="2", color_scheme="gray")),
                ),
            ),
            spacing="1", align="start",
        ),
        style={"listStyle": "none", "border": "1px solid var(--gray-6)", "borderRadius": "8px", "padding": "12px",
               "marginBottom": "10px", "background": "var(--color-panel-solid)"},
    )


def _cancel_dialog() -> rx.Component:
    return rx.cond(
        P.confirm_cancel_id != 0,
        rx.box(
            rx.text(P.confirm_cancel_text, weight="bold"),
            rx.hstack(
                rx.button("Yes, cancel the visit", on_click=P.cancel_visit, color_scheme="red", high_contrast=True, size="3", style=TOUCH),
                rx.button("Keep it", on_click=P.keep_visit, variant="soft", size="3", style=TOUCH),
                spacing="3", margin_top="8px", wrap="wrap",
            ),
            role="alertdialog", aria_label="Cancel a visit",
            style={"border": "2px solid var(--red-8)", "borderRadius": "8px", "padding": "12px", "marginBottom": "12px"},
        ),
    )


def portal_home() -> rx.Component:
    return _shell(
        rx.cond(P.name != "", "Hello, " + P.name, "Your visits"),
        section_message(P.message, P.message_is_error),
        _cancel_dialog(),
        rx.heading(P.whose_visits, "upcoming visits", size="4", as_="h2", margin_bottom="8px"),
        rx.cond(
            P.upcoming.length() > 0,
            rx.el.ul(rx.foreach(P.upcoming, lambda v: _visit_card(v, actions=True)), style={"padding": "0"}),
            rx.text("You have no upcoming visits.", margin_bottom="8px"),
        ),
        rx.link("Book a visit", href="/portal/book", class_name="portal-button",
                style={**TOUCH, "display": "inline-flex", "alignItems": "center", "padding": "0 16px",
                       "borderRadius": "6px", "background": "var(--accent-9)", "color": "var(--accent-contrast)",
                       "fontWeight": "500", "textDecoration": "none"}),
        rx.heading(P.whose_visits, "past visits", size="4", as_="h2", margin_top="20px", margin_bottom="8px"),
        rx.cond(
            P.past.length() > 0,
            rx.el.ul(rx.foreach(P.past, lambda v: _visit_card(v, actions=False)), style={"padding": "0"}),
            rx.text("No past visits yet."),
        ),
    )


def _select(label: str, field_id: str, options, value, on_change, disabled=False) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=field_id),
        rx.el.select(rx.foreach(options, lambda o: rx.el.option(o.label, value=o.value)), id=field_id, value=value,
                     on_change=on_change, disabled=disabled, style=FIELD_STYLE),
        spacing="1", width="100%",
    )


def portal_book() -> rx.Component:
    return _shell(
        rx.cond(P.moving_id != 0, "Move a visit", "Book a visit"),
        section_message(P.message, P.message_is_error),
        rx.cond(
            P.moving_id != 0,
            rx.hstack(rx.text(P.moving_text), rx.button("Keep the old time", on_click=P.stop_moving, variant="soft",
                                                        size="3", style=TOUCH), wrap="wrap", margin_bottom="12px"),
            rx.vstack(
                _select("Kind of visit", "portal-type", P.type_options, P.pick_type, P.set_type),
                _select("Clinician", "portal-provider", P.provider_options, P.pick_provider, P.set_provider),
                spacing="3", width="100%", margin_bottom="12px",
            ),
        ),
        _select("Day", "portal-day", P.day_options, P.pick_day, P.set_day),
        rx.heading("Open times", size="4", as_="h2", margin_top="16px", margin_bottom="8px", id="portal-times-heading"),
        rx.cond(
            P.times.length() > 0,
            rx.box(
                rx.foreach(
                    P.times,
                    lambda t: rx.button(
                        t.label, on_click=P.set_time(t.value), size="3",
                        variant=rx.cond(P.pick_time == t.value, "solid", "outline"),
                        aria_pressed=rx.cond(P.pick_time == t.value, "true", "false"),
                        style={**TOUCH, "minWidth": "88px"},
                    ),
                ),
                role="group", aria_labelledby="portal-times-heading",
                style={"display": "flex", "flexWrap": "wrap", "gap": "8px"},
            ),
            rx.text("No open times on this day; choose another day."),
        ),
        # In view whatever the scroll: a phone shows a dozen times before the fold.
        rx.cond(
            P.pick_time != "",
            rx.box(
                rx.button(
                    rx.cond(P.moving_id != 0, "Move my visit to ", "Book ") + P.pick_time_label,
                    on_click=P.confirm, size="3", width="100%", style=TOUCH,
                ),
                style={"position": "sticky", "bottom": "0", "padding": "12px 0", "marginTop": "8px",
                       "background": "var(--color-background)"},
            ),
        ),
    )


def portal_checkin() -> rx.Component:
    C = CheckinState
    return _shell(
        "Check in for your visit",
        rx.cond(
            C.done != "",
            rx.callout(C.done, color_scheme="green", role="status", high_contrast=True),
            rx.vstack(
                rx.box(rx.cond(C.error != "", rx.callout(C.error, color_scheme="red", role="alert", high_contrast=True)),
                       aria_live="polite", width="100%"),
                rx.cond(
                    C.ready,
                    rx.vstack(
                        rx.text("To protect your privacy, confirm your date of birth first."),
                        rx.vstack(
                            rx.el.label("Date of birth", html_for="checkin-birth"),
                            rx.el.input(id="checkin-birth", type="date", value=C.birth_date,
                                        on_change=C.set_birth_date, style=FIELD_STYLE),
                            spacing="1", width="100%",
                        ),
                        rx.button("Check in", on_click=C.confirm, size="3", width="100%", style=TOUCH),
                        spacing="3", width="100%",
                    ),
                ),
                spacing="3", width="100%",
            ),
        ),
        signed_in=False,
    )
