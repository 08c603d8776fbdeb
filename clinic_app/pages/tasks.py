"""The task inbox (/tasks): the person's and their role's tasks by due date, live; open what a
task is about in one click, give it to someone, snooze it, complete it with a note; make one."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.fields import labelled_input, labelled_select, panel, section_message, table
from clinic_app.components.layout import frame
from clinic_app.state.tasks import TaskInboxState as S


def _row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.cond(row.overdue, rx.text(row.due_words, color="var(--red-11)", weight="bold"), rx.text(row.due_words)),
                      white_space="nowrap"),
        rx.table.cell(row.kind),
        rx.table.cell(row.title),
        rx.table.cell(row.patient, white_space="nowrap"),
        rx.table.cell(row.owner),
        rx.table.cell(
            rx.hstack(
                rx.link(row.link_label, href=row.link, aria_label=row.link_label + ": " + row.label,
                        _hover={"color": "var(--accent-12)"}),
                rx.button("Work on it", on_click=S.work_on(row.id), aria_label="Work on it: " + row.label,
                          variant="soft", size="2"),
                spacing="3", align="center", wrap="wrap",
            ),
        ),
        id="task-" + row.id.to_string(),
    )


def _working() -> rx.Component:
    return rx.cond(
        S.working != 0,
        panel(
            "Work on the task",
            rx.text(S.working_title, size="2", margin_bottom="8px"),
            rx.hstack(
                labelled_select("Give it to", "task-assign", S.people, S.assign_to, S.set_assign_to),
                rx.button("Give it", on_click=S.assign, size="2"),
                labelled_input("Snooze until", "task-snooze", S.snooze_until, S.set_snooze_until, type_="date", width="160px"),
                rx.button("Snooze", on_click=S.snooze, size="2", variant="soft"),
                align="end", spacing="3", wrap="wrap", margin_bottom="8px",
            ),
            rx.hstack(
                labelled_input("What was done", "task-done-note", S.done_note, S.set_done_note, width="420px", max_length=500),
                rx.button("Complete", on_click=S.complete, size="2", color_scheme="green", high_contrast=True),
                rx.button("Close this panel", on_click=S.stop_working, size="2", variant="ghost"),
                align="end", spacing="3", wrap="wrap",
            ),
            panel_id="task-work",
        ),
    )


def _new_task() -> rx.Component:
    return rx.el.details(
        rx.el.summary("Make a task about a patient", style={"cursor": "pointer", "padding": "8px 0", "fontWeight": "500"}),
        rx.hstack(
            labelled_input("Patient MRN", "task-new-mrn", S.new_mrn, S.set_new_mrn, width="120px", max_length=20),
            labelled_input("What needs doing", "task-new-title", S.new_title, S.set_new_title, width="340px", max_length=200),
            labelled_input("Due", "task-new-due", S.new_due, S.set_new_due, type_="date", width="160px"),
            labelled_select("For", "task-new-for", S.owners, S.new_for, S.set_new_for),
            rx.button("Make the task", on_click=S.create, size="2"),
            align="end", spacing="3", wrap="wrap",
        ),
        margin_top="12px",
    )


def tasks_page() -> rx.Component:
    return frame(
        "Tasks",
        section_message(S.message, S.message_is_error),
        rx.hstack(
            labelled_select("Show", "task-show", S.shows, S.show, S.set_show),
            labelled_select("Kind", "task-kind", S.kinds, S.kind, S.set_kind),
            labelled_select("Patient", "task-patient", S.patients, S.patient_id, S.set_patient),
            rx.text(S.count, " open in your queue or given to you; ", S.total, " shown by this filter.",
                    size="2", id="task-summary", role="status"),
            align="end", spacing="4", wrap="wrap", margin_bottom="8px",
        ),
        _working(),
        rx.cond(
            S.tasks.length() == 0,
            rx.text("Nothing to do here.", size="3", margin_top="8px"),
            table(("Due", "Kind", "Task", "Patient", "For", "Open"), rx.foreach(S.tasks, _row), label="Tasks by due date"),
        ),
        _new_task(),
    )
