"""The biller's queue: visits ready to bill with their charges, live."""

from __future__ import annotations

import dataclasses

import reflex as rx

from clinic_app.db import session_scope
from clinic_app.live import registry
from clinic_app.live.events import billing_topic
from clinic_app.services import billing, board
from clinic_app.services.errors import ClinicError, InvalidInput
from clinic_app.state.auth import as_id, current_actor, page_actor
from clinic_app.state.common import Option, money
from clinic_app.state.live_push import client_token


@dataclasses.dataclass
class ChargeLine:
    code: str
    units: int
    amount: str
    diagnoses: str


@dataclasses.dataclass
class QueueRow:
    id: int
    patient_name: str
    mrn: str
    provider_name: str
    service_date: str
    time_label: str
    status_label: str
    total: str
    charges: list[ChargeLine]
    bill_label: str


def _row(row: dict) -> QueueRow:
    return QueueRow(
        id=row["id"], patient_name=row["patient_name"], mrn=row["mrn"], provider_name=row["provider_name"],
        service_date=row["service_date"], time_label=row["time_label"], status_label=row["status_label"],
        total=row["total"], charges=[ChargeLine(**c) for c in row["charges"]],
        bill_label=f"Mark billed: {row['patient_name']}, {row['service_date']}",
    )


class BillingQueueState(rx.State):
    """One biller's queue screen."""

    location_id: str = ""
    locations: list[Option] = []
    rows: list[QueueRow] = []
    message: str = ""
    message_is_error: bool = False
    _totals: dict[int, int] = {}

    @rx.event
    async def load(self):
        actor, redirect = await page_actor(self, "billing.view")
        if redirect:
            return redirect
        with session_scope() as session:
            locations = board.locations(session)
        self.locations = [Option(value=str(loc.id), label=loc.name) for loc in locations]
        if self.location_id not in {o.value for o in self.locations}:
            ids = [loc.id for loc in locations]
            self.location_id = str(actor.location_id if actor.location_id in ids else ids[0])
        return await self._refresh()

    async def _refresh(self):
        try:
            actor = await current_actor(self, "billing.view")
            with session_scope() as session:
                rows = billing.queue(session, actor=actor, location_id=as_id(self.location_id))
        except ClinicError as exc:
            return self._fail(exc)
        self.rows = [_row(r) for r in rows]
        self._totals = {r["id"]: r["total_cents"] for r in rows}
        registry.show(client_token(self), "billing", [billing_topic(int(self.location_id))])
        return None

    @rx.event
    async def set_location(self, value: str):
        if value not in {o.value for o in self.locations}:
            return self._fail(InvalidInput("Choose a location from the list."))
        self.location_id = value
        return await self._refresh()

    def apply_row(self, row: dict | None) -> None:
        """A pushed change: a visit became ready to bill (add it) or left the queue (drop it)."""
        if row is None:
            return
        rows = [r for r in self.rows if r.id != row["id"]]
        self._totals.pop(row["id"], None)
        if row["status"] == "ready_to_bill":
            rows.append(_row(row))
            rows.sort(key=lambda r: (r.service_date, r.time_label, r.id))
            self._totals[row["id"]] = row["total_cents"]
        self.rows = rows

    @rx.var
    def queue_total(self) -> str:
        return money(sum(self._totals.values()))

    @rx.event
    async def mark_billed(self, appointment_id: int):
        try:
            actor = await current_actor(self, "billing.mark_billed")
            with session_scope() as session:
                appointment = billing.mark_billed(session, actor=actor, appointment_id=as_id(appointment_id))
                self.apply_row(billing.queue_row(session, appointment_id=appointment.id))
        except ClinicError as exc:
            return self._fail(exc)
        self.message = "Marked billed."
        self.message_is_error = False
        return None

    def _fail(self, exc: Exception):
        self.message = str(exc)
        self.message_is_error = True
