"""Plan & HEP: goals, frequency and duration of care, the home exercise programme."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.chart_codes import labelled_input, section_message
from clinic_app.components.chart_note import TOUCH
from clinic_app.components.chart_record import row_with_action
from clinic_app.state.chart import ChartState
from clinic_app.state.chart_plan import PlanSection as P


def _goal(g) -> rx.Component:
    return rx.hstack(
        rx.text(g.text),
        rx.select.root(
            rx.select.trigger(aria_label=g.status_label, style={"minHeight": "44px"}),
            rx.select.content(rx.foreach(P.goal_statuses, lambda st: rx.select.item(st, value=st))),
            value=g.status,
            on_change=lambda st: P.set_goal_status(g.id, st),
            size="3",
        ),
        align="center",
        wrap="wrap",
    )


def plan_section() -> rx.Component:
    return rx.cond(
        ChartState.own_note,
        rx.vstack(
            rx.heading("Treatment plan goals", size="4"),
            section_message(P, P.message_at == "goals"),
            rx.cond(P.goals.length() == 0, rx.text("No goals set.", size="2")),
            rx.foreach(P.goals, _goal),
            rx.hstack(
                rx.vstack(
                    rx.el.label("Goal term", html_for="goal-term"),
                    rx.select.root(
                        rx.select.trigger(id="goal-term", aria_label="Goal term", style={"minHeight": "44px"}),
                        rx.select.content(rx.select.item("short", value="short"), rx.select.item("long", value="long")),
                        value=P.new_goal_term,
                        on_change=P.set_new_goal_term,
                        size="3",
                    ),
                    spacing="1",
                ),
                labelled_input("Goal", "goal-text", P.new_goal_text, P.set_new_goal_text, max_length=200),
                labelled_input("Target date", "goal-date", P.new_goal_date, P.set_new_goal_date, type="date"),
                rx.button("Add goal", on_click=P.add_goal, size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
            rx.heading("Frequency and duration of care", size="4"),
            rx.text(P.care_plan_text, size="2", class_name="care-plan"),
            section_message(P, P.message_at == "care"),
            rx.hstack(
                labelled_input("Visits per week", "plan-per-week", P.plan_per_week, P.set_plan_per_week,
                       type="number", min=1, max=7, width="120px"),
                labelled_input("For how many weeks", "plan-weeks", P.plan_weeks, P.set_plan_weeks,
                       type="number", min=1, max=52, width="120px"),
                labelled_input("Starting", "plan-start", P.plan_start, P.set_plan_start, type="date"),
                rx.button("Save plan of care", on_click=P.save_care_plan, size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
            rx.heading("Home exercise programme", size="4"),
            rx.cond(P.exercises.length() == 0, rx.text("No home exercises yet.", size="2")),
            rx.foreach(P.exercises, lambda r: row_with_action(r, P.stop_exercise)),
            rx.hstack(
                labelled_input("Exercise", "ex-name", P.new_ex_name, P.set_new_ex_name, max_length=80),
                labelled_input("Sets, reps, how often", "ex-dosage", P.new_ex_dosage, P.set_new_ex_dosage, max_length=80),
                labelled_input("Instructions", "ex-instructions", P.new_ex_instructions, P.set_new_ex_instructions, max_length=400),
                rx.button("Add exercise", on_click=P.add_exercise, size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
            rx.button("Print home exercise programme (PDF)", on_click=P.print_home_programme, variant="soft",
                      size="3", style=TOUCH),
            section_message(P, P.message_at == "exercises"),
            width="100%",
            spacing="2",
        ),
        rx.text("The plan of care of a supervisee's patient is theirs to keep; it is not shown for co-signature."),
    )
