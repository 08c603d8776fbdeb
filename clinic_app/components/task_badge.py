"""The header's link to the task inbox with the count of open tasks (live: state/tasks.py)."""

from __future__ import annotations

import reflex as rx

from clinic_app.models import ROLES
from clinic_app.services.platform.permissions import allowed
from clinic_app.state.auth import AuthState
from clinic_app.state.tasks import TaskBadgeState

TASK_ROLES = [role for role in ROLES if allowed(role, "task.view")]


def task_badge() -> rx.Component:
    """The link to the inbox, with the open count in words ("Tasks: 3 open")."""
    return rx.cond(
        rx.Var.create(TASK_ROLES).contains(AuthState.role),
        rx.link(
            # One text, so that what shows is the link's name too ("Tasks: 3 open").
            rx.badge("Tasks: ", TaskBadgeState.count, " open", color_scheme=rx.cond(TaskBadgeState.count > 0, "red", "gray"),
                     variant="soft", size="3", id="task-count", high_contrast=True),
            href="/tasks",
            padding="10px 8px",
            on_mount=TaskBadgeState.load,
            _hover={"color": "var(--accent-12)"},
        ),
    )
