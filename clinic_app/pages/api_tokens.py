"""The admin's API tokens page."""

import reflex as rx

from clinic_app.components.layout import frame, message_box
from clinic_app.state.api_tokens import ApiTokenState


def _field(label: str, ident: str, value, on_change, hint: str = "", **props) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=ident),
        rx.input(id=ident, value=value, on_change=on_change, min_height="44px", **props),
        *([rx.text(hint, size="1", color_scheme="gray")] if hint else []),
        spacing="1",
    )


def _row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.id),
        rx.table.cell(row.username, rx.text(row.role, size="1", color_scheme="gray")),
        rx.table.cell(row.label),
        rx.table.cell(rx.code(row.scopes)),
        rx.table.cell(row.expires),
        rx.table.cell(rx.badge(row.state, color_scheme=rx.cond(row.state == "Active", "green", "gray"), high_contrast=True)),
        rx.table.cell(
            rx.cond(
                row.state == "Active",
                rx.button("Revoke", on_click=ApiTokenState.revoke(row.id), aria_label=row.revoke_label,
                          color_scheme="red", variant="soft", min_height="44px"),
            )
        ),
    )


def api_tokens_page() -> rx.Component:
    return frame(
        "API tokens",
        rx.text(
            "A token lets another system use the FHIR API as the user it belongs to, within its scopes, "
            "until it expires. Only a fingerprint of it is kept.", margin_bottom="12px",
        ),
        message_box(ApiTokenState.message, ApiTokenState.is_error),
        rx.cond(
            ApiTokenState.new_token != "",
            rx.card(
                rx.vstack(
                    rx.el.label("New token (shown once)", html_for="new-token"),
                    rx.input(id="new-token", value=ApiTokenState.new_token, read_only=True, width="100%", min_height="44px"),
                    rx.button("I have copied it", on_click=ApiTokenState.forget_token, min_height="44px"),
                    spacing="2",
                ),
                margin_bottom="12px",
            ),
        ),
        rx.el.form(
            rx.flex(
                _field("Username", "token-username", ApiTokenState.username, ApiTokenState.set_username),
                _field("Scopes", "token-scopes", ApiTokenState.scopes, ApiTokenState.set_scopes,
                       "e.g. user/*.read or user/Patient.read user/Appointment.write", width="340px"),
                _field("Days valid", "token-days", ApiTokenState.days, ApiTokenState.set_days, "1 to 366",
                       type="number", width="110px"),
                _field("What it is for", "token-label", ApiTokenState.label, ApiTokenState.set_label),
                rx.button("Create token", type="submit", min_height="44px"),
                wrap="wrap",
                gap="12px",
                align="end",
            ),
            on_submit=ApiTokenState.create,
            prevent_default=True,
            margin_bottom="16px",
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) for h in ("Id", "User", "For", "Scopes", "Expires", "State", "Action")])
            ),
            rx.table.body(rx.foreach(ApiTokenState.rows, _row)),
            aria_label="API tokens",
        ),
    )
