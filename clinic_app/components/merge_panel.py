"""The "Merge duplicate records" panel: search both records, compare side by side, confirm."""

from __future__ import annotations

import reflex as rx

from clinic_app.state.merge import MergeSection as M


def _chosen(label: str, value, which: str) -> rx.Component:
    return rx.hstack(
        rx.text(label, ": ", rx.cond(value != "", value, "not chosen yet"), size="2", weight="medium"),
        rx.button(rx.cond(value != "", "Change", "Search"), " ", label.lower(), on_click=M.search_for(which),
                  variant="ghost", size="2", min_height="44px"),
        align="center",
        wrap="wrap",
    )


def _row(row) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row.what), rx.table.cell(row.keep), rx.table.cell(row.duplicate),
    )


def merge_panel() -> rx.Component:
    """Shown while the side panel shows "merge"."""
    return rx.box(
        rx.vstack(
            rx.heading("Merge duplicate records", size="4"),
            rx.text("Everything of the duplicate (visits, notes, insurance, billing, chart) moves to the "
                    "record you keep. The duplicate stays on file, inactive.", size="1", color_scheme="gray"),
            rx.cond(M.message != "", rx.callout(M.message, color_scheme=rx.cond(M.message_is_error, "red", "green"),
                                                role=rx.cond(M.message_is_error, "alert", "status"), size="1")),
            _chosen("Record to keep", M.keep_label, "keep"),
            _chosen("Duplicate record", M.duplicate_label, "duplicate"),
            rx.el.label(
                rx.cond(M.which == "keep", "Search the record to keep", "Search the duplicate record"),
                html_for="merge-search",
            ),
            rx.input(id="merge-search", value=M.query, on_change=M.search.debounce(250),
                     placeholder="Name, date of birth, phone or MRN", width="100%"),
            rx.foreach(M.hits, lambda h: rx.button(h.label, on_click=M.choose(h.id), variant="soft",
                                                   width="100%", min_height="44px")),
            rx.cond(
                M.rows.length() > 0,
                rx.vstack(
                    rx.text("The two records side by side", size="2", weight="bold"),
                    rx.table.root(
                        rx.table.header(rx.table.row(
                            rx.table.column_header_cell(""), rx.table.column_header_cell("Keep"),
                            rx.table.column_header_cell("Duplicate"),
                        )),
                        rx.table.body(rx.foreach(M.rows, _row)),
                        size="1",
                    ),
                    rx.foreach(M.clashes, lambda c: rx.text("Both records have a visit at ", c, size="1",
                                                            color_scheme="red", weight="bold")),
                    rx.el.label("Why (optional)", html_for="merge-reason"),
                    rx.input(id="merge-reason", value=M.reason, on_change=M.set_reason, max_length=200, width="100%"),
                    rx.button("Merge the duplicate into the record to keep", on_click=M.confirm, color_scheme="red",
                              size="3"),
                    spacing="2",
                    width="100%",
                ),
            ),
            rx.button("Close merge panel", on_click=M.close, variant="ghost", size="3"),
            spacing="2",
            align="start",
        ),
        width="100%",
    )
