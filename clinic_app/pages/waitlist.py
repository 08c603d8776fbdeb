"""The waitlist (/waitlist): who is waiting at a location, their preferences, the offer flow."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.fields import labelled_select, section_message
from clinic_app.components.layout import frame
from clinic_app.pages.patient_profile import freed_slots
from clinic_app.state.waitlist import WaitlistList as L
from clinic_app.state.waitlist import WaitlistState as S


def _row(row) -> rx.Component:
    nowrap = {"white_space": "nowrap"}
    return rx.table.row(
        rx.table.cell(
            rx.link(row.patient_name, href=row.href, _hover={"color": "var(--accent-12)"}, **nowrap),
            rx.text(row.phone, size="1", color="var(--gray-11)"),
            rx.cond(row.note != "", rx.text("Note: ", row.note, size="1")),
        ),
        rx.table.cell(row.type_name),
        rx.table.cell(row.days, **nowrap),
        rx.table.cell(row.times, **nowrap),
        rx.table.cell(row.provider, **nowrap),
        rx.table.cell(row.waited, **nowrap),
        rx.table.cell(
            rx.hstack(
                rx.button("Find a freed slot", on_click=L.find_slots(row.entry_id),
                          aria_label="Find a freed slot for " + row.label, variant="soft", size="1"),
                rx.button("Remove", on_click=L.remove(row.entry_id), aria_label="Remove from the waitlist: " + row.label,
                          variant="ghost", color_scheme="red", size="1"),
                wrap="wrap",
            ),
            freed_slots(row, L),
            width="40%",
        ),
    )


def waitlist_page() -> rx.Component:
    return frame(
        "Waitlist",
        section_message(S.message, S.message_is_error),
        rx.hstack(
            labelled_select("Location", "waitlist-location", S.locations, S.location_id, S.set_location),
            rx.text("Patients are added from their profile (\"Add to the waitlist\") or from the booking form.",
                    size="2", color="var(--gray-11)"),
            align="end",
            spacing="4",
            margin_bottom="8px",
        ),
        section_message(L.message, L.message_is_error),
        rx.cond(
            L.entries.length() == 0,
            rx.text("Nobody is waiting at this location.", size="3"),
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                    "Patient", "Visit", "Days", "Times of day", "Provider", "Waiting", "Offer")])),
                rx.table.body(rx.foreach(L.entries, _row)),
                width="100%",
                aria_label="Patients waiting, longest first",
            ),
        ),
    )
