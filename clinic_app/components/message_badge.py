"""The header's link to the staff inbox with the count of conversations with new messages (live:
state/messages.py)."""

from __future__ import annotations

import reflex as rx

from clinic_app.models import ROLES
from clinic_app.services.platform.permissions import allowed
from clinic_app.state.auth import AuthState
from clinic_app.state.messages import MessageBadgeState

MESSAGE_ROLES = [role for role in ROLES if allowed(role, "message.staff")]


def message_badge() -> rx.Component:
    """"Messages", or "Messages: 2 new" (one text: what shows is the link's name too)."""
    return rx.cond(
        rx.Var.create(MESSAGE_ROLES).contains(AuthState.role),
        rx.link(
            rx.cond(
                MessageBadgeState.count > 0,
                rx.badge("Messages: ", MessageBadgeState.count, " new", color_scheme="blue", variant="soft", size="3",
                         id="message-count", high_contrast=True),
                rx.text.span("Messages", id="message-count"),
            ),
            href="/messages",
            size="3", weight="medium",
            padding="10px 8px",
            on_mount=MessageBadgeState.load,
            _hover={"color": "var(--accent-12)"},
        ),
    )
