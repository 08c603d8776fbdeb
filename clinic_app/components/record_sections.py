"""The insurance and episode parts of the patient edit panel."""

from __future__ import annotations

import reflex as rx

from clinic_app.state.record_edit import RecordEditState as E


def _field(label: str, id_: str, value, on_change, *, type_: str = "text", width: str = "120px") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=id_),
        rx.input(id=id_, type=type_, value=value, on_change=on_change, width=width),
        spacing="1",
    )


def _coverage(row, i) -> rx.Component:
    return rx.vstack(
        rx.text(row.label, size="2", weight="medium"),
        rx.hstack(
            _field("Copay ($)", f"coverage-{i}-copay", row.copay, lambda v: E.set_coverage(i, "copay", v), width="90px"),
            _field("Coverage ends", f"coverage-{i}-ends", row.ends, lambda v: E.set_coverage(i, "ends", v), type_="date",
                   width="150px"),
        ),
        rx.button("Save insurance", on_click=E.save_coverage(i), variant="soft", size="3",
                  aria_label="Save insurance " + row.label),
        spacing="1",
        width="100%",
    )


def _episode(row, i) -> rx.Component:
    return rx.vstack(
        _field("Episode title", f"episode-{i}-title", row.title, lambda v: E.set_episode(i, "title", v), width="100%"),
        rx.hstack(
            _field("Authorised visits", f"episode-{i}-visits", row.visits, lambda v: E.set_episode(i, "visits", v),
                   width="90px"),
            _field("Authorisation ends", f"episode-{i}-end", row.auth_end, lambda v: E.set_episode(i, "auth_end", v),
                   type_="date", width="150px"),
        ),
        rx.button("Save episode", on_click=E.save_episode(i), variant="soft", size="3",
                  aria_label="Save episode " + row.title),
        spacing="1",
        width="100%",
    )


def record_sections() -> rx.Component:
    box = {"border": "1px solid var(--gray-5)", "borderRadius": "6px", "padding": "8px", "width": "100%"}
    return rx.vstack(
        rx.cond(E.message != "", rx.callout(E.message, color_scheme=rx.cond(E.message_is_error, "red", "green"),
                                            role=rx.cond(E.message_is_error, "alert", "status"), size="1")),
        rx.el.fieldset(
            rx.el.legend(rx.text("Insurance", weight="bold", size="2")),
            rx.cond(E.coverages.length() == 0, rx.text("No insurance on file.", size="1")),
            rx.foreach(E.coverages, _coverage),
            style=box,
        ),
        rx.el.fieldset(
            rx.el.legend(rx.text("Open episodes of care", weight="bold", size="2")),
            rx.cond(E.episodes.length() == 0, rx.text("No open episode.", size="1")),
            rx.foreach(E.episodes, _episode),
            style=box,
        ),
        spacing="2",
        width="100%",
    )
