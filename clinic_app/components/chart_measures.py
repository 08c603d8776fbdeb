"""Measures: the scores of this visit with their trend, and the form to score one."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.chart_codes import section_message
from clinic_app.components.chart_note import EDITABLE, TOUCH
from clinic_app.state.chart_measures import MeasuresSection as M


def _measure_row(r) -> rx.Component:
    return rx.hstack(
        rx.cond(
            r.label_editable,
            rx.vstack(
                rx.el.label("Activity " + (r.index + 1).to_string(), html_for="measure-label-" + r.index.to_string()),
                rx.input(id="measure-label-" + r.index.to_string(), value=r.label, size="3", max_length=80,
                         on_change=lambda v: M.set_measure_label(r.index, v)),
                spacing="1",
            ),
        ),
        rx.vstack(
            rx.el.label(r.field_label, html_for="measure-value-" + r.index.to_string()),
            rx.input(id="measure-value-" + r.index.to_string(), value=r.value, size="3", width="90px", max_length=3,
                     input_mode="numeric", on_change=lambda v: M.set_measure_value(r.index, v)),
            spacing="1",
        ),
        align="end",
        wrap="wrap",
        min_width="140px",
    )


def _trend_chart(m) -> rx.Component:
    """The scores across the episode as a line, with the MCID from the first score dashed.
    The table below it says the same in words (the chart is hidden from screen readers)."""
    return rx.vstack(
        rx.box(
            rx.recharts.line_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
                rx.recharts.x_axis(data_key="visit"),
                rx.recharts.y_axis(domain=[m.low, m.high], allow_decimals=True, width=40),
                rx.recharts.reference_line(y=m.target.to(int),  # a number either way in JS; the prop is typed str | int
                                           stroke="#15803d", stroke_dasharray="6 4", label="MCID",
                                           if_overflow="extendDomain"),
                rx.recharts.line(data_key="score", name=m.code, stroke="#1d4ed8", stroke_width=3, is_animation_active=False),
                data=m.points,
                width="100%",
                height=200,
                # Recharts 3 makes the chart a tab stop by default; it is hidden from assistive
                # technology (the table says the same), so it must not take the focus either.
                custom_attrs={"accessibilityLayer": False},
            ),
            aria_hidden="true",
            class_name="trend-chart",
            width="100%",
            max_width="640px",
        ),
        rx.text(m.target_words, size="2"),
        spacing="1",
        width="100%",
    )


def _result(m) -> rx.Component:
    return rx.box(
        rx.text(m.heading, weight="bold"),
        rx.text(m.latest_words),
        _trend_chart(m),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Visit"), rx.table.column_header_cell("Score"),
                    rx.table.column_header_cell("Change since the first score"),
                ),
            ),
            rx.table.body(
                rx.foreach(m.trend, lambda t: rx.table.row(
                    rx.table.cell(t.when), rx.table.cell(t.score), rx.table.cell(t.words),
                )),
            ),
            size="1",
            aria_label="Trend of " + m.code + " across visits",
            width="100%",
        ),
        border_left="4px solid var(--accent-8)",
        padding_left="8px",
        width="100%",
    )


def _home_row(r) -> rx.Component:
    return rx.hstack(
        rx.text(r.words, size="2"),
        rx.cond(r.waiting & EDITABLE,
                rx.button("Withdraw", on_click=M.withdraw_home(r.id), aria_label=r.withdraw_label, variant="soft",
                          size="2", style=TOUCH)),
        align="center", wrap="wrap",
    )


def _at_home() -> rx.Component:
    """Ask the patient to fill in a measure at home (the portal's My care page)."""
    return rx.vstack(
        rx.heading("At home", size="3", as_="h4"),
        rx.foreach(M.home_rows, _home_row),
        rx.cond(
            EDITABLE,
            rx.hstack(
                rx.vstack(
                    rx.el.label("Measure to ask the patient at home", html_for="home-measure-choice"),
                    rx.select.root(
                        rx.select.trigger(id="home-measure-choice", placeholder="Choose a measure",
                                          aria_label="Measure to ask the patient at home", style={"minHeight": "44px"}),
                        rx.select.content(rx.foreach(M.measure_codes, lambda c: rx.select.item(c, value=c))),
                        value=M.home_code,
                        on_change=M.set_home_code,
                        size="3",
                    ),
                    spacing="1",
                ),
                rx.button("Ask the patient", on_click=M.ask_at_home, disabled=M.home_code == "", size="3", style=TOUCH),
                align="end", wrap="wrap",
            ),
        ),
        spacing="2",
        width="100%",
    )


def measures_section() -> rx.Component:
    return rx.vstack(
        rx.cond(M.measure_results.length() == 0, rx.text("No measure scored at this visit yet.", size="2")),
        rx.foreach(M.measure_results, _result),
        rx.cond(
            EDITABLE,
            rx.vstack(
                rx.el.label("Outcome measure to score", html_for="measure-choice"),
                rx.select.root(
                    rx.select.trigger(id="measure-choice", placeholder="Choose a measure",
                                      aria_label="Outcome measure to score", style={"minHeight": "44px"}),
                    rx.select.content(rx.foreach(M.measure_codes, lambda c: rx.select.item(c, value=c))),
                    value=M.measure_code,
                    on_change=M.choose_measure,
                    size="3",
                ),
                rx.cond(
                    M.measure_code != "",
                    rx.vstack(
                        rx.text(M.measure_name, weight="bold"),
                        rx.flex(rx.foreach(M.measure_rows, _measure_row), wrap="wrap", gap="12px"),
                        rx.cond(M.measure_can_add_row,
                                rx.button("Add an activity", on_click=M.add_measure_row, variant="soft", size="3",
                                          style=TOUCH)),
                        rx.button("Score " + M.measure_code, on_click=M.score_measure, size="3", style=TOUCH),
                        spacing="2",
                        width="100%",
                    ),
                ),
                spacing="2",
                width="100%",
            ),
        ),
        _at_home(),
        section_message(M),
        width="100%",
        spacing="2",
    )
