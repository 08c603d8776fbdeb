"""The manager's dashboard: a date range and filters, tiles, charts, the rows behind a tile."""

import reflex as rx

from clinic_app.components.layout import frame, message_box, option_select
from clinic_app.state.kpi import KpiState, Tile

TOUCH = "44px"


def _labelled(label: str, control_id: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.el.label(label, html_for=control_id, font_size="14px"), control, spacing="1")


def _filters() -> rx.Component:
    return rx.flex(
        _labelled("Period", "kpi-preset", option_select("kpi-preset", "Period", KpiState.presets, KpiState.preset, KpiState.set_preset)),
        _labelled("From", "kpi-start", rx.input(id="kpi-start", type="date", value=KpiState.start, on_change=KpiState.set_start,
                                                width="160px", min_height=TOUCH)),
        _labelled("To", "kpi-end", rx.input(id="kpi-end", type="date", value=KpiState.end, on_change=KpiState.set_end,
                                            width="160px", min_height=TOUCH)),
        _labelled("Location", "kpi-location",
                  option_select("kpi-location", "Location", KpiState.locations, KpiState.location_id, KpiState.set_location)),
        _labelled("Provider", "kpi-provider",
                  option_select("kpi-provider", "Provider", KpiState.providers, KpiState.provider_id, KpiState.set_provider)),
        _labelled("Payer", "kpi-payer", option_select("kpi-payer", "Payer", KpiState.payers, KpiState.payer_id, KpiState.set_payer)),
        rx.button("Refresh figures", on_click=KpiState.refresh, variant="soft", min_height=TOUCH, align_self="end"),
        wrap="wrap",
        gap="12px",
        align="end",
        margin_bottom="12px",
    )


def _tile(tile: Tile) -> rx.Component:
    selected = KpiState.drill_key == tile.key
    return rx.button(
        rx.vstack(
            rx.text(tile.label, size="2", color_scheme="gray"),
            rx.heading(tile.value, size="6", class_name="kpi-value"),
            rx.text(tile.detail, size="1", color_scheme="gray"),
            align="start",
            spacing="1",
        ),
        on_click=KpiState.open_drill(tile.key),
        # Named by its visible text, label, value and what it is out of (axe:
        # label-content-name-mismatch); the section's name says what pressing one does.
        # Selected: a light accent fill and a thick accent border; the text stays dark on light
        # (the solid variant put gray text on a dark fill).
        variant=rx.cond(selected, "soft", "surface"),
        box_shadow=rx.cond(selected, "inset 0 0 0 3px var(--indigo-9)", "none"),
        aria_pressed=rx.cond(selected, "true", "false"),
        title="Show the rows behind this figure",
        data_tile=tile.key,
        height="auto",
        min_height="96px",
        width="220px",
        padding="10px 12px",
        justify="start",
        text_align="left",
        color_scheme=rx.cond(selected, "indigo", "gray"),
        high_contrast=True,
    )


def _download(label: str, on_click) -> rx.Component:
    return rx.button(label, on_click=on_click, variant="outline", size="2", min_height=TOUCH)


def _util_table(title: str, rows, table: str, who: str) -> rx.Component:
    return rx.vstack(
        rx.hstack(rx.heading(title, size="4"), _download(f"Download {title.lower()} as CSV", KpiState.download_table(table)),
                  align="center", spacing="3"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (who, "Booked minutes", "Available minutes", "Utilisation")])),
            rx.table.body(rx.foreach(rows, lambda r: rx.table.row(
                rx.table.row_header_cell(r.name), rx.table.cell(r.booked), rx.table.cell(r.available), rx.table.cell(r.rate),
            ))),
            size="1",
        ),
        align="start",
        spacing="2",
    )


def _task_table(title: str, rows, who: str) -> rx.Component:
    return rx.vstack(
        rx.heading(title, size="4"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (who, "Open", "Overdue")])),
            rx.table.body(rx.foreach(rows, lambda r: rx.table.row(
                rx.table.row_header_cell(r.name), rx.table.cell(r.open), rx.table.cell(r.overdue),
            ))),
            size="1",
        ),
        align="start",
        spacing="2",
    )


def _tasks() -> rx.Component:
    """The task inbox's backlog now (docs/kpi.md "Tasks"), live."""
    return rx.el.section(
        rx.heading("Tasks now", size="5", margin_top="24px"),
        rx.text(KpiState.tasks_status, size="2", color_scheme="gray", id="kpi-tasks-status"),
        rx.flex(
            _task_table("Tasks by kind", KpiState.tasks_by_kind, "Kind"),
            _task_table("Tasks by person or queue", KpiState.tasks_by_person, "Person or queue"),
            wrap="wrap",
            gap="24px",
        ),
        aria_label="Open and overdue tasks",
        id="kpi-tasks",
    )


def _chart(title, chart: rx.Component, description: str, width: str, *below: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.heading(title, size="4"), chart, *below,
        width=width, max_width="100%", align="start", aria_label="Chart: " + description, role="figure",
    )


def _charts() -> rx.Component:
    return rx.flex(
        _chart(
            "Visits per " + KpiState.grain,
            rx.recharts.bar_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                rx.recharts.x_axis(data_key="period"),
                rx.recharts.y_axis(allow_decimals=False),
                rx.recharts.graphing_tooltip(),
                rx.recharts.legend(),
                rx.recharts.bar(data_key="visits", name="Visits completed", fill="#2563eb"),
                rx.recharts.bar(data_key="arrivals", name="Arrivals", fill="#16a34a"),
                rx.recharts.bar(data_key="no_shows", name="No-shows", fill="#dc2626"),
                data=KpiState.visits_chart, width="100%", height=260,
            ),
            "visits completed, arrivals and no-shows per period",
            "560px",
            _download("Download visits per period as CSV", KpiState.download_table("visits_by_period")),
        ),
        _chart(
            "Utilisation by provider (%)",
            # Bars across, names down the side: every provider named, however many.
            rx.recharts.bar_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                rx.recharts.x_axis(type_="number", domain=[0, 100], unit="%"),
                rx.recharts.y_axis(data_key="name", type_="category", width=190, interval=0),
                rx.recharts.graphing_tooltip(),
                rx.recharts.bar(data_key="percent", name="Utilisation %", fill="#7c3aed"),
                data=KpiState.provider_chart, layout="vertical", width="100%", height=KpiState.provider_chart_height,
            ),
            "utilisation by provider, in per cent",
            "480px",
        ),
        wrap="wrap",
        gap="24px",
        margin_bottom="16px",
    )


def _drill() -> rx.Component:
    return rx.cond(
        KpiState.drill_key != "",
        rx.el.section(
            rx.hstack(
                rx.heading("Rows behind: " + KpiState.drill_label, size="4", id="kpi-drill-title"),
                _download("Download these rows as CSV", KpiState.download_drill),
                rx.button("Close the rows", on_click=KpiState.close_drill, variant="soft", size="2", min_height=TOUCH),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.text(KpiState.drill_note, size="2", margin_y="6px", role="status"),
            rx.table.root(
                rx.table.header(rx.table.row(rx.foreach(KpiState.drill_columns, lambda c: rx.table.column_header_cell(c)))),
                rx.table.body(rx.foreach(KpiState.drill_rows, lambda row: rx.table.row(
                    rx.foreach(row, lambda cell: rx.table.cell(cell))
                ))),
                size="1",
                id="kpi-drill-table",
            ),
            aria_labelledby="kpi-drill-title",
            margin_bottom="16px",
            padding="12px",
            border="1px solid var(--gray-6)",
            border_radius="8px",
        ),
    )


def kpi_page() -> rx.Component:
    return frame(
        "Clinic dashboard",
        _filters(),
        message_box(KpiState.message, KpiState.message != ""),
        rx.text(KpiState.status, size="2", color_scheme="gray", role="status", id="kpi-status", margin_bottom="8px"),
        rx.el.section(
            rx.flex(rx.foreach(KpiState.tiles, _tile), wrap="wrap", gap="12px"),
            aria_label="Key figures; choose one to see the rows behind it",
            margin_bottom="16px",
        ),
        _drill(),
        _charts(),
        rx.flex(
            _util_table("Utilisation by provider", KpiState.provider_util, "utilisation_by_provider", "Provider"),
            _util_table("Utilisation by room", KpiState.room_util, "utilisation_by_room", "Room"),
            wrap="wrap",
            gap="24px",
        ),
        _tasks(),
    )
