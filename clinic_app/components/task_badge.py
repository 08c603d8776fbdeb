"""The header's link to the task inbox with the count of open tasks (live: state/tasks.py)."""

from __future__ import annotations

import reflex as rx

from clinic_app.models import ROLES
from clinic_app.services.platform.permissions import allowed
from clinic_app.state.auth import AuthState
from clinic_app.state.tasks import TaskBadgeState

TASK_ROLES = [role for role in ROLES if allowed(role, "task.view")]


def task_badge() -> rx.Component:
    """"Tasks" and the open count, in words for screen readers ("Tasks: 3 open")."""
    return rx.cond(
        rx.Var.create(TASK_ROLES).contains(AuthState.role),
        rx.link(
            rx.hstack(
                rx.text("Tasks", size="3", weight="medium"),
                rx.badge(TaskBadgeState.count, color_scheme=rx.cond(TaskBadgeState.count > 0, "red", "gray"),
                         variant="solid", size="2", id="task-count", high_contrast=True),
                spacing="1", align="center",
            ),
            href="/tasks",
            aria_label="Tasks: " + TaskBadgeState.count.to_string() + " open",
            padding="10px 8px",
            on_mount=TaskBadgeState.load,
            _hover={"color": "var(--accent-12)"},
        ),
    )
