"""Domain events the live bus carries, and the topics a screen subscribes to."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AppointmentChanged:
    """An appointment was booked or changed status (published after commit)."""

    appointment_id: int
    location_id: int
    provider_id: int
    day: str  # the visit's date in its location's time zone, ISO format
    status: str
    applied_by: str = ""  # the tab (client token) that made the change and shows it already

    def topics(self) -> list[str]:
        """Every fixed topic whose screens show this appointment (KPI dashboards show date
        ranges: the live layer matches their topics against the event, see kpi_topic)."""
        return [
            board_topic(self.location_id, self.day),
            chart_topic(self.provider_id, self.day),
            billing_topic(self.location_id),
        ]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> AppointmentChanged:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class ClaimsChanged:
    """Claims, remittances or patient ledgers changed (published after commit): the
    billing pages' claim counts, recent claims, denial worklist and AR aging."""

    what: str  # what happened, in words (for logs)

    def topics(self) -> list[str]:
        return [CLAIMS_TOPIC]

    def to_json(self) -> str:
        return json.dumps({"kind": "claims", **asdict(self)})


@dataclass(frozen=True)
class SessionsEnded:
    """Sign-in sessions ended (sign-out, idle log-off, deactivation, password change): every
    worker resets the open tabs of those sessions it holds and sends them to sign-in."""

    session_ids: tuple[int, ...]

    def topics(self) -> list[str]:
        return []

    def to_json(self) -> str:
        return json.dumps({"kind": "sessions_ended", "session_ids": list(self.session_ids)})


@dataclass(frozen=True)
class MessagesChanged:
    """A thread got a message or was read (published on commit): the inboxes of its members,
    of the queue it went to, and the patient's own portal."""

    thread_id: int
    patient_id: int
    user_ids: tuple[int, ...]
    queue: str  # patient threads: "desk" or "clinician"; "" for staff threads
    provider_id: int = 0  # the clinician a patient thread went to

    def topics(self) -> list[str]:
        topics = [messages_topic(user_id) for user_id in self.user_ids]
        if self.queue == "desk":
            topics.append(DESK_MESSAGES_TOPIC)
        elif self.queue == "clinician" and self.provider_id:
            topics.append(clinician_messages_topic(self.provider_id))
        return [*topics, portal_topic(self.patient_id)]

    def to_json(self) -> str:
        return json.dumps({"kind": "messages", **asdict(self)})


@dataclass(frozen=True)
class PaymentsChanged:
    """A patient's online payment was settled (published on commit): their own Pay page shows
    "Payment received" (or the decline) and the new balance without a reload."""

    patient_id: int

    def topics(self) -> list[str]:
        return [portal_topic(self.patient_id)]

    def to_json(self) -> str:
        return json.dumps({"kind": "payments", **asdict(self)})


@dataclass(frozen=True)
class TasksChanged:
    """Tasks opened, closed or changed (published after commit): every open task inbox and
    header badge shows the new rows and counts (services/tasks)."""

    task_ids: tuple[int, ...]

    def topics(self) -> list[str]:
        return [TASKS_TOPIC]

    def to_json(self) -> str:
        return json.dumps({"kind": "tasks", "task_ids": list(self.task_ids)})


@dataclass(frozen=True)
class RegistrationsChanged:
    """A portal self-registration was confirmed by its e-mail, accepted or declined (published on
    commit): every open desk list of registrations shows the change."""

    registration_id: int

    def topics(self) -> list[str]:
        return [REGISTRATIONS_TOPIC]

    def to_json(self) -> str:
        return json.dumps({"kind": "registrations", **asdict(self)})


# The billing pages' claim sections (clinic-wide, not per location).
CLAIMS_TOPIC = "billing:claims"
# Task inboxes and badges (clinic-wide: each screen picks its own rows and count).
TASKS_TOPIC = "tasks:all"
TASK_BADGE_TOPIC = "taskbadge:all"
# The desk's list of portal registrations (clinic-wide).
REGISTRATIONS_TOPIC = "portal:registrations"

LiveEvent = (AppointmentChanged | ClaimsChanged | SessionsEnded | MessagesChanged | TasksChanged | PaymentsChanged
             | RegistrationsChanged)


def decode(text: str | bytes) -> LiveEvent:
    """An event from its JSON (as the Redis bus carries it)."""
    data = json.loads(text)
    kind = data.pop("kind", None)
    if kind == "claims":
        return ClaimsChanged(**data)
    if kind == "messages":
        return MessagesChanged(**{**data, "user_ids": tuple(int(i) for i in data["user_ids"])})
    if kind == "payments":
        return PaymentsChanged(patient_id=int(data["patient_id"]))
    if kind == "registrations":
        return RegistrationsChanged(registration_id=int(data["registration_id"]))
    if kind == "tasks":
        return TasksChanged(task_ids=tuple(int(i) for i in data["task_ids"]))
    if kind == "sessions_ended":
        return SessionsEnded(session_ids=tuple(int(i) for i in data["session_ids"]))
    return AppointmentChanged(**data)


def board_topic(location_id: int, day: str) -> str:
    """Calendar boards showing one location's day."""
    return f"board:{location_id}:{day}"


def chart_topic(provider_id: int, day: str) -> str:
    """A clinician's list of the day's patients."""
    return f"chart:{provider_id}:{day}"


def billing_topic(location_id: int) -> str:
    """Billing queues of one location."""
    return f"billing:{location_id}"


KPI_PREFIX = "kpi:"


def kpi_topic(filters_key: str) -> str:
    """KPI dashboards showing one set of filters (services.kpi.KpiFilters.key()): every
    dashboard with the same range and filters shares the topic, so a change is computed once."""
    return KPI_PREFIX + filters_key


DESK_MESSAGES_TOPIC = "messages:desk"


def messages_topic(user_id: int) -> str:
    """One member of staff's inbox (and the header's unread badge)."""
    return f"messages:user:{user_id}"


def clinician_messages_topic(provider_id: int) -> str:
    """The patient messages sent to one clinician."""
    return f"messages:provider:{provider_id}"


def portal_topic(patient_id: int) -> str:
    """The patient's own portal pages."""
    return f"portal:{patient_id}"
