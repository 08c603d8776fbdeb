"""The frame around every signed-in page: navigation, who is signed in, messages."""

from __future__ import annotations

import reflex as rx

from clinic_app import settings
from clinic_app.components.message_badge import message_badge
from clinic_app.components.patient_search import patient_search
from clinic_app.components.task_badge import task_badge
from clinic_app.models import ROLES
from clinic_app.services.platform.permissions import allowed
from clinic_app.state.auth import AuthState

# The header's patient search, for the roles that may search patients (the desk).
SEARCH_ROLES = [role for role in ROLES if allowed(role, "patient.search")]

NAV = [
    ("Board", "/board", ("reception", "clinician")),
    ("Waitlist", "/waitlist", ("reception",)),
    ("Registrations", "/portal-registrations", ("reception",)),
    ("Chart", "/chart", ("clinician",)),
    ("Billing", "/billing", ("biller",)),
    ("Billing set-up", "/billing/setup", ("biller", "admin")),
    ("Dashboard", "/kpi", ("manager", "admin")),
    ("Users", "/admin/users", ("admin",)),
    ("Audit log", "/admin/audit", ("admin",)),
    ("Templates", "/admin/templates", ("admin",)),
    ("Measures", "/admin/measures", ("admin",)),
    ("Clinicians", "/admin/clinicians", ("admin",)),
    ("Online booking", "/admin/online-booking", ("admin",)),
    ("Password", "/account/password", ("reception", "clinician", "biller", "manager", "admin")),
    ("API tokens", "/api-tokens", ("admin",)),
]

# Automatic log-off: after the idle time with no key, pointer or touch input the page goes to
# sign-in with a new client token (/clinic-idle.js, a file: the Content-Security-Policy runs no
# inline script of ours); the server has ended the session by then (clinic_app/upkeep.py).
def idle_script() -> rx.Component:
    return rx.script(src="/clinic-idle.js", custom_attrs={"data-idle-minutes": str(settings.IDLE_MINUTES)})


def _nav_link(label: str, href: str, roles: tuple[str, ...]) -> rx.Component:
    return rx.cond(
        rx.Var.create(list(roles)).contains(AuthState.role),
        # Reflex's link hover colour (accent-8) reads at 2.4:1 on white; keep 4.5:1 under the pointer.
        rx.link(label, href=href, size="3", weight="medium", padding="10px 8px", _hover={"color": "var(--accent-12)"}),
    )


def frame(title: str | rx.Var, *children: rx.Component) -> rx.Component:
    """A page with the top bar and a main landmark."""
    return rx.box(
        rx.el.header(
            rx.hstack(
                rx.heading("Clinic", size="5"),
                # Wraps rather than overflowing: an admin's many links fit a 768 px tablet.
                rx.el.nav(rx.hstack(*[_nav_link(*n) for n in NAV], message_badge(), task_badge(), spacing="2", wrap="wrap"),
                       aria_label="Main"),
                rx.cond(rx.Var.create(SEARCH_ROLES).contains(AuthState.role), rx.box(patient_search(), role="search")),
                rx.spacer(),
                rx.text(AuthState.user_name, " (", AuthState.role, ")", size="2", color_scheme="gray"),
                rx.button("Sign out", on_click=AuthState.sign_out, variant="soft", size="3", min_height="44px"),
                align="center",
                spacing="3",
                width="100%",
                wrap="wrap",
            ),
            padding="8px 16px",
            border_bottom="1px solid var(--gray-5)",
        ),
        rx.el.main(rx.heading(title, size="6", margin_bottom="12px"), *children, padding="12px 16px"),
        idle_script(),
    )


def message_box(text, is_error) -> rx.Component:
    """A message after an action: errors announced to screen readers at once."""
    return rx.cond(
        text != "",
        rx.callout(
            text,
            color_scheme=rx.cond(is_error, "red", "green"),
            role=rx.cond(is_error, "alert", "status"),
            high_contrast=True,  # the soft green's text is 4.28:1 on its background; axe wants 4.5:1
            margin_bottom="12px",
            size="1",
        ),
    )


def option_select(select_id: str, label: str, options, value, on_change) -> rx.Component:
    """A select over a list of Option(value, label), named for screen readers."""
    return rx.select.root(
        rx.select.trigger(id=select_id, aria_label=label),
        rx.select.content(rx.foreach(options, lambda o: rx.select.item(o.label, value=o.value))),
        value=value,
        on_change=on_change,
    )
