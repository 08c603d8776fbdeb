"""Admin pages: user accounts and the audit log; everyone's password page."""

import reflex as rx

from clinic_app.components.layout import frame, message_box
from clinic_app.state.admin import AccountState, AuditState, UsersState
from clinic_app.state.calendar_feed import CalendarFeedState


def _field(label: str, name: str, **props) -> rx.Component:
    return rx.vstack(rx.el.label(label, html_for=f"f-{name}"), rx.input(id=f"f-{name}", name=name, **props), spacing="1")


def _user_row(u) -> rx.Component:
    return rx.table.row(
        rx.table.cell(u.username),
        rx.table.cell(u.full_name),
        rx.table.cell(u.role),
        rx.table.cell(rx.badge(u.status, color_scheme=rx.cond(u.status == "Active", "green", "amber"), high_contrast=True)),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    u.active,
                    rx.button("Deactivate", on_click=UsersState.deactivate(u.id), variant="soft", color_scheme="red",
                              aria_label="Deactivate " + u.label),
                    rx.button("Reactivate", on_click=UsersState.reactivate(u.id), variant="soft", aria_label="Reactivate " + u.label),
                ),
                rx.cond(u.locked, rx.button("Unlock", on_click=UsersState.unlock(u.id), variant="soft", aria_label="Unlock " + u.label)),
                rx.button("Set temporary password", on_click=UsersState.ask_reset(u.id), variant="outline",
                          aria_label="Set temporary password for " + u.label),
                spacing="2",
            )
        ),
    )


def _reset_dialog() -> rx.Component:
    """One step: type the temporary password and press the button (one form, one event)."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Set a temporary password"),
            rx.dialog.description("For ", UsersState.reset_label, ". They must change it at their next sign-in; their sessions end.",
                                  size="2", margin_bottom="12px"),
            rx.form(
                rx.vstack(
                    rx.el.label("Temporary password", html_for="temp-password"),
                    rx.input(id="temp-password", name="temporary", type="password", auto_complete="new-password",
                             max_length=256, required=True, width="100%", auto_focus=True),
                    rx.text("At least 10 characters, mixing letters with digits, spaces or symbols.", size="1", color_scheme="gray"),
                    message_box(UsersState.reset_message, UsersState.reset_message != ""),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                        rx.button("Set temporary password", type="submit", id="temp-password-submit"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="2",
                ),
                on_submit=UsersState.reset_password,
                reset_on_submit=True,
            ),
            max_width="440px",
        ),
        open=UsersState.reset_user_id > 0,
        on_open_change=UsersState.close_reset,
    )


def users_page() -> rx.Component:
    return frame(
        "User accounts",
        message_box(UsersState.message, UsersState.message_is_error),
        rx.card(
            rx.form(
                rx.heading("New account", size="4", margin_bottom="8px"),
                rx.flex(
                    _field("Username", "username", max_length=64, required=True),
                    _field("Full name", "full_name", max_length=120, required=True),
                    rx.vstack(
                        rx.el.label("Role", html_for="f-role"),
                        rx.el.select(rx.foreach(UsersState.roles, lambda r: rx.el.option(r, value=r)), id="f-role", name="role",
                                     style={"minHeight": "32px"}),
                        spacing="1",
                    ),
                    rx.vstack(
                        rx.el.label("Provider (clinicians)", html_for="f-provider"),
                        rx.el.select(rx.el.option("None", value=""),
                                     rx.foreach(UsersState.providers, lambda o: rx.el.option(o.label, value=o.value)),
                                     id="f-provider", name="provider_id", style={"minHeight": "32px"}),
                        spacing="1",
                    ),
                    _field("First password", "password", type="password", max_length=256, required=True),
                    rx.button("Create account", type="submit"),
                    gap="12px",
                    wrap="wrap",
                    align="end",
                ),
                on_submit=UsersState.create,
                reset_on_submit=False,
            ),
            margin_bottom="16px",
        ),
        _reset_dialog(),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in ("Username", "Name", "Role", "Status", "Actions")])),
            rx.table.body(rx.foreach(UsersState.users, _user_row)),
            width="100%",
        ),
    )


def audit_page() -> rx.Component:
    return frame(
        "Audit log",
        message_box(AuditState.message, AuditState.message != ""),
        rx.form(
            rx.flex(
                _field("User (username or name)", "user", max_length=120, placeholder="reception"),
                _field("Patient (name, MRN or date of birth)", "patient", max_length=80, placeholder="Moore or P0000167"),
                _field("Action starts with", "action", max_length=40, placeholder="view"),
                _field("From (UTC date)", "since", type="date"),
                _field("To (UTC date)", "until", type="date"),
                rx.button("Search audit log", type="submit", min_height="36px"),
                rx.button("Download these rows as CSV", type="button", on_click=AuditState.download, variant="outline",
                          min_height="36px"),
                gap="12px",
                wrap="wrap",
                align="end",
            ),
            on_submit=AuditState.search,
            reset_on_submit=False,
            margin_bottom="12px",
        ),
        rx.text(AuditState.total, rx.cond(AuditState.total == 1, " matching row", " matching rows"), " (newest first, 50 a page)", margin_bottom="8px", role="status", id="audit-total"),
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) for h in ("When (UTC)", "User", "Role", "Action", "Record", "Patient", "From", "Detail")])
            ),
            rx.table.body(
                rx.foreach(
                    AuditState.rows,
                    lambda r: rx.table.row(*[rx.table.cell(v) for v in (r.at, r.user, r.role, r.action, r.record, r.patient, r.source, r.detail)]),
                )
            ),
            width="100%",
            size="1",
            id="audit-table",
        ),
        rx.hstack(
            rx.button("Newest", on_click=AuditState.newest, variant="soft"),
            rx.button("Older", on_click=AuditState.older, variant="soft"),
            margin_top="8px",
        ),
    )


def password_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Change your password", size="5"),
                    rx.text("At least 10 characters, mixing letters with digits, spaces or symbols.", size="2"),
                    _field("Current password", "current", type="password", auto_complete="current-password", required=True, width="100%"),
                    _field("New password", "new", type="password", auto_complete="new-password", required=True, width="100%"),
                    _field("New password again", "repeat", type="password", auto_complete="new-password", required=True, width="100%"),
                    message_box(AccountState.message, AccountState.message_is_error),
                    rx.button("Change password", type="submit", size="3", width="100%"),
                    spacing="3",
                    width="340px",
                ),
                on_submit=AccountState.change,
                reset_on_submit=False,
            )
        ),
        rx.cond(CalendarFeedState.has_schedule, _calendar_feed()),
        min_height="90vh",
        direction="column",
        gap="16px",
    )


def _calendar_feed() -> rx.Component:
    """A clinician's private feed of their own schedule (no patient names), on or off."""
    return rx.card(
        rx.vstack(
            rx.heading("Calendar feed", size="4"),
            rx.text("Your upcoming visits in your own calendar app, with no patient names.", size="2"),
            rx.text(rx.cond(CalendarFeedState.feed_on, "Status: on", "Status: off"), size="2", weight="bold"),
            message_box(CalendarFeedState.feed_message, CalendarFeedState.feed_message_is_error),
            rx.cond(
                CalendarFeedState.feed_url != "",
                rx.vstack(
                    rx.el.label("Feed address", html_for="ical-url"),
                    rx.input(id="ical-url", value=CalendarFeedState.feed_url, read_only=True, width="100%"),
                    spacing="1", width="100%",
                ),
            ),
            rx.hstack(
                rx.button(rx.cond(CalendarFeedState.feed_on, "Make a new feed address", "Turn calendar feed on"),
                          on_click=CalendarFeedState.turn_on, min_height="44px"),
                rx.cond(CalendarFeedState.feed_on,
                        rx.button("Turn calendar feed off", on_click=CalendarFeedState.turn_off, variant="outline",
                                  min_height="44px")),
                wrap="wrap",
            ),
            spacing="3",
            width="340px",
        )
    )
