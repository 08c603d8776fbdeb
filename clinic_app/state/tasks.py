"""The task inbox (/tasks) and the header's task badge, both live.

A rule or a colleague opens, changes or closes a task -> TasksChanged after the commit ->
each worker builds the changed tasks' rows and the open counts per owner once (``_changes``),
and every open inbox keeps or drops each row by its own filters, and every badge sums its own
count; no screen reads the database for a push.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import reflex as rx
from sqlmodel import select

from clinic_app.db import session_scope
from clinic_app.live import registry
from clinic_app.live.events import TASK_BADGE_TOPIC, TASKS_TOPIC, TasksChanged
from clinic_app.live.surfaces import Surface, register
from clinic_app.models import Patient
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import ClinicError, InvalidInput
from clinic_app.services.platform.permissions import allowed
from clinic_app.services.tasks import inbox
from clinic_app.services.tasks.rules import KIND_LABELS, today
from clinic_app.state.auth import AuthState
from clinic_app.state.common import Option, in_db
from clinic_app.state.reflex_adapter import client_token
from clinic_app.state.screen import FAILED, Screen

ROLE_QUEUES = {"reception": "Front desk queue", "clinician": "Clinicians' queue", "biller": "Billers' queue",
               "manager": "Managers' queue"}


@dataclasses.dataclass
class TaskRow:
    """A task as the inbox lists it."""

    id: int
    kind: str
    title: str
    patient: str
    due_on: str
    due_words: str  # "Overdue since ..." / "Due ..."
    overdue: bool
    owner: str  # the queue and/or the person, in words
    link: str
    link_label: str
    label: str  # names the row's buttons for screen readers


def _owner(row: dict) -> str:
    parts = [ROLE_QUEUES.get(row["queue_role"], "")] if row["queue_role"] else []
    if row["assignee"]:
        parts.append(row["assignee"])
    return ", ".join(p for p in parts if p)


def task_row(row: dict) -> TaskRow:
    return TaskRow(
        id=row["id"], kind=row["kind_label"], title=row["title"], patient=row["patient"], due_on=row["due_on"],
        due_words=("Overdue, due " if row["overdue"] else "Due ") + row["due_on"], overdue=row["overdue"],
        owner=_owner(row), link=row["link"], link_label=row["link_label"],
        label=f"{row['title']}, {row['patient']}",
    )


class TaskBadgeState(rx.State):
    """The header's count of open tasks in the person's queue or given to them (live)."""

    count: int = 0
    loaded: bool = False
    _role: str = ""
    _user_id: int = 0

    @rx.event
    async def load(self):
        auth = await self.get_state(AuthState)
        actor = await auth.actor()
        if actor is None or not allowed(actor.role, "task.view"):
            return
        self._role, self._user_id = actor.role, actor.user_id
        self.count = await in_db(lambda s: inbox.open_count(s, actor=actor))
        self.loaded = True
        registry.show(client_token(self), "taskbadge", [TASK_BADGE_TOPIC])

    def apply_counts(self, change: dict) -> None:
        """Pushed after tasks changed anywhere: this person's count, from the counts per owner."""
        if self._user_id:
            self.count = inbox.count_for(change["counts"], role=self._role, user_id=self._user_id)


class TaskInboxState(Screen, rx.State):
    """One person's inbox: filters, the list by due date, and the task being worked."""

    _permission = "task.view"
    show: str = "all"
    kind: str = ""
    patient_id: str = ""
    shows: list[Option] = [Option("all", "My tasks and my role's queue"), Option("mine", "Given to me"),
                           Option("queue", "My role's queue"), Option("overdue", "Overdue")]
    kinds: list[Option] = [Option("", "Every kind")] + [Option(k, v) for k, v in KIND_LABELS.items()]
    patients: list[Option] = []
    people: list[Option] = []
    owners: list[Option] = []
    tasks: list[TaskRow] = []
    total: int = 0
    count: int = 0
    today: str = ""
    # the task being worked
    working: int = 0
    working_title: str = ""
    assign_to: str = ""
    snooze_until: str = ""
    done_note: str = ""
    # a hand-made task
    new_mrn: str = ""
    new_title: str = ""
    new_due: str = ""
    new_for: str = ""
    _rows: dict[int, dict] = {}
    _role: str = ""
    _user_id: int = 0

    def _filter(self) -> inbox.InboxFilter:
        return inbox.InboxFilter(show=self.show, kind=self.kind, patient_id=int(self.patient_id) if self.patient_id else None)

    async def _refresh(self, actor: Actor):
        self._role, self._user_id = actor.role, actor.user_id
        what = self._filter()
        page, people = await in_db(lambda s: (inbox.inbox(s, actor=actor, what=what), inbox.people(s, actor=actor)))
        self._show_page(page)
        self.people = [Option("", "Nobody (back to the queue)")] + [Option(str(i), f"{n} ({r})") for i, n, r in people]
        self.owners = [Option("", "Choose who gets it")] + [Option(f"role:{r}", q) for r, q in ROLE_QUEUES.items()] + [
            Option(f"user:{i}", f"{n} ({r})") for i, n, r in people]
        if not self.new_due:
            self.new_due = self.today
        registry.show(client_token(self), "tasks", [TASKS_TOPIC])
        badge = await self.get_state(TaskBadgeState)
        badge.count, badge._role, badge._user_id = self.count, actor.role, actor.user_id

    def _show_page(self, page: dict) -> None:
        self._rows = {r["id"]: r for r in page["rows"]}
        self.total, self.count, self.today = page["total"], page["count"], page["today"]
        self._draw()
        if not self.patient_id:
            seen = sorted({(r["patient"], r["patient_id"]) for r in page["rows"]})
            self.patients = [Option("", "Every patient")] + [Option(str(i), n) for n, i in seen]
        if self.working not in self._rows:
            self._stop_working()

    def _draw(self) -> None:
        ordered = sorted(self._rows.values(), key=lambda r: (r["due_on"], r["id"]))[:inbox.PAGE]
        self.tasks = [task_row(r) for r in ordered]

    def apply_tasks(self, change: dict) -> None:
        """Pushed after tasks changed anywhere: keep or drop each changed row by this inbox's filters."""
        if not self._user_id:
            return
        what = self._filter()
        for row in change["rows"]:
            wanted = inbox.matches(row, role=self._role, user_id=self._user_id, what=what, day=self.today or change["today"])
            had = row["id"] in self._rows
            if wanted:
                self._rows[row["id"]] = row
                self.total += 0 if had else 1
            elif had:
                del self._rows[row["id"]]
                self.total -= 1
        self.count = inbox.count_for(change["counts"], role=self._role, user_id=self._user_id)
        self._draw()
        if self.working and self.working not in self._rows:
            self._stop_working()

    # -- filters ---------------------------------------------------------------------------------
    async def _reload(self):
        try:
            actor = await self._actor("task.view")
            await self._refresh(actor)
        except ClinicError as exc:
            self._fail(exc)

    @rx.event
    async def set_show(self, value: str):
        self.show = value if value in inbox.FILTERS else "all"
        await self._reload()

    @rx.event
    async def set_kind(self, value: str):
        self.kind = value if value in KIND_LABELS else ""
        await self._reload()

    @rx.event
    async def set_patient(self, value: str):
        self.patient_id = value if value.isdigit() else ""
        await self._reload()

    # -- working one task ----------------------------------------------------------------------------
    @rx.event
    def work_on(self, task_id: int):
        row = self._rows.get(int(task_id))
        if row is None:
            return
        self.working, self.working_title = row["id"], f"{row['title']} ({row['patient']})"
        self.assign_to = str(row["assignee_user_id"] or "")
        self.snooze_until = (dt.date.fromisoformat(self.today) + dt.timedelta(days=1)).isoformat() if self.today else ""
        self.done_note = ""
        self._clear()

    def _stop_working(self) -> None:
        self.working, self.working_title, self.done_note = 0, "", ""

    @rx.event
    def stop_working(self):
        self._stop_working()

    @rx.event
    def set_assign_to(self, value: str):
        self.assign_to = value

    @rx.event
    def set_snooze_until(self, value: str):
        self.snooze_until = value

    @rx.event
    def set_done_note(self, value: str):
        self.done_note = value[:500]

    @rx.event
    async def assign(self):
        task_id, user_id = self.working, int(self.assign_to) if self.assign_to.isdigit() else None
        if await self._act("task.work", lambda s, a: inbox.assign(s, actor=a, task_id=task_id, user_id=user_id),
                           done="Task given to " + ("the person chosen." if user_id else "its queue.")) is not FAILED:
            await self._after()

    @rx.event
    async def snooze(self):
        task_id = self.working
        try:
            until = dt.date.fromisoformat(self.snooze_until)
        except ValueError:
            self._fail(InvalidInput("Choose the day the task comes back."))
            return
        if await self._act("task.work", lambda s, a: inbox.snooze(s, actor=a, task_id=task_id, until=until),
                           done=f"Snoozed until {until.isoformat()}.") is not FAILED:
            self._stop_working()
            await self._after()

    @rx.event
    async def complete(self):
        task_id, note = self.working, self.done_note
        if await self._act("task.work", lambda s, a: inbox.complete(s, actor=a, task_id=task_id, note=note),
                           done="Task done.") is not FAILED:
            self._stop_working()
            await self._after()

    async def _after(self):
        message, is_error = self.message, self.message_is_error
        await self._reload()
        self.message, self.message_is_error = message, is_error

    # -- a hand-made task -----------------------------------------------------------------------------
    @rx.event
    def set_new_mrn(self, value: str):
        self.new_mrn = value[:20]

    @rx.event
    def set_new_title(self, value: str):
        self.new_title = value[:200]

    @rx.event
    def set_new_due(self, value: str):
        self.new_due = value

    @rx.event
    def set_new_for(self, value: str):
        self.new_for = value

    @rx.event
    async def create(self):
        mrn, title, owner = self.new_mrn.strip(), self.new_title, self.new_for
        try:
            due = dt.date.fromisoformat(self.new_due)
        except ValueError:
            self._fail(InvalidInput("Choose the day the task is due."))
            return
        role = owner.removeprefix("role:") if owner.startswith("role:") else None
        user = int(owner.removeprefix("user:")) if owner.startswith("user:") and owner[5:].isdigit() else None

        def work(s, a):
            patient = s.exec(select(Patient).where(Patient.mrn == mrn)).first() if mrn else None
            if patient is None:
                raise InvalidInput("No patient has that MRN; enter the patient's MRN from their profile.")
            return inbox.create(s, actor=a, patient_id=patient.id, title=title, due_on=due, queue_role=role,
                                assignee_user_id=user)

        if await self._act("task.work", work, done="Task created.") is not FAILED:
            self.new_mrn, self.new_title = "", ""
            await self._after()


# -- live ------------------------------------------------------------------------------------------
def _changes(event: TasksChanged) -> dict:
    """Once per change on this worker, whatever the number of open inboxes and badges."""
    with session_scope() as session:
        return {"rows": inbox.changed_rows(session, list(event.task_ids)), "counts": inbox.counts_by_owner(session),
                "today": today(session).isoformat()}


register(Surface("tasks", lambda e: TASKS_TOPIC, _changes, TaskInboxState, "apply_tasks", event_type=TasksChanged))
register(Surface("taskbadge", lambda e: TASK_BADGE_TOPIC, _changes, TaskBadgeState, "apply_counts", event_type=TasksChanged))
