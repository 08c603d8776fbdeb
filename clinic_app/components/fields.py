"""Labelled form controls and the small pieces the desk's pages share."""

from __future__ import annotations

import reflex as rx


def labelled_input(label: str, field_id: str, value, on_change, *, type_: str = "text", width: str = "180px",
                   max_length: int = 80) -> rx.Component:
    """An input with its visible label (the label is its accessible name)."""
    return rx.vstack(
        rx.el.label(label, html_for=field_id, style={"fontSize": "14px"}),
        rx.input(id=field_id, type=type_, value=value, on_change=on_change, width=width, max_length=max_length, size="2"),
        spacing="1",
    )


def labelled_select(label: str, field_id: str, options, value, on_change, *, width: str = "auto") -> rx.Component:
    """A native select over Option(value, label) with its visible label."""
    return rx.vstack(
        rx.el.label(label, html_for=field_id, style={"fontSize": "14px"}),
        rx.el.select(
            rx.foreach(options, lambda o: rx.el.option(o.label, value=o.value)),
            id=field_id, value=value, on_change=on_change,
            style={"height": "32px", "minWidth": "140px", "width": width, "padding": "0 6px",
                   "border": "1px solid var(--gray-8)", "borderRadius": "4px", "background": "var(--color-surface)",
                   "color": "var(--gray-12)"},
        ),
        spacing="1",
    )


def section_message(text, is_error) -> rx.Component:
    """A section's message beside its controls: a reserved line, announced, never moving the page."""
    return rx.box(
        rx.cond(
            text != "",
            rx.callout(text, color_scheme=rx.cond(is_error, "red", "green"), role=rx.cond(is_error, "alert", "status"),
                       size="1", high_contrast=True),
        ),
        aria_live="polite",
        margin_bottom="6px",
    )


def panel(title: str, *children: rx.Component, panel_id: str = "") -> rx.Component:
    """A titled section of a page (a region named by its heading)."""
    heading_id = f"{panel_id}-heading" if panel_id else None
    return rx.el.section(
        rx.heading(title, size="4", margin_bottom="6px", id=heading_id, as_="h2"),
        *children,
        id=panel_id or None,
        aria_labelledby=heading_id,
        style={"border": "1px solid var(--gray-6)", "borderRadius": "8px", "padding": "12px", "width": "100%",
               "background": "var(--color-panel-solid)"},
    )


def table(headers: tuple[str, ...], body, *, label: str) -> rx.Component:
    """A plain table with column headers, named for screen readers."""
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(body),
        width="100%",
        size="1",
        aria_label=label,
    )


def upload_box(upload_id: str, label: str, *children: rx.Component, **props) -> rx.Component:
    """A file drop zone whose file input is named ``label`` (react-dropzone renders it unnamed)."""
    zone = rx.upload.root(*children, id=upload_id, **props)
    file_input = zone.children[0].children[0]
    file_input.custom_attrs["aria-label"] = label
    return zone


def inline_form(*fields: rx.Component, submit: rx.Component, on_cancel) -> rx.Component:
    """A small form opened inside a section: its fields, then its action and Cancel."""
    return rx.box(
        *fields,
        rx.hstack(submit, rx.button("Cancel", on_click=on_cancel, variant="ghost", size="2"), margin_top="8px"),
        border="1px solid var(--accent-7)",
        border_radius="6px",
        padding="8px",
        margin_top="8px",
    )
