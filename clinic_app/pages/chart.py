"""The clinician's chart, tablet-first: big touch targets, no hover-only controls."""

import reflex as rx

from clinic_app.components.body_chart import body_chart
from clinic_app.components.layout import frame, message_box
from clinic_app.components.status_badge import status_badge
from clinic_app.state.chart import ChartState

TOUCH = {"min_height": "44px", "min_width": "44px"}


def _visit(v) -> rx.Component:
    return rx.button(
        rx.hstack(
            rx.text(v.start_label, weight="bold"),
            rx.text(v.patient_name),
            rx.spacer(),
            status_badge(v.status, v.status_label),
            width="100%",
            align="center",
        ),
        on_click=ChartState.open_visit(v.id),
        aria_label=v.open_label,
        variant=rx.cond(ChartState.appointment_id == v.id, "solid", "surface"),
        width="100%",
        size="3",
        style={"minHeight": "56px", "justifyContent": "flex-start"},
    )


def _soap(label, field_id: str, value, handler) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=field_id, style={"fontWeight": "600"}),
        rx.text_area(
            id=field_id,
            value=value,
            on_change=handler,
            debounce_timeout=400,
            read_only=ChartState.signed_label != "",
            rows="4",
            size="3",
            width="100%",
            max_length=20000,
        ),
        width="100%",
        spacing="1",
    )


def _codes() -> rx.Component:
    unsigned = ChartState.signed_label == ""
    return rx.vstack(
        rx.heading("Diagnoses (ICD-10-CM)", size="4"),
        rx.foreach(
            ChartState.diagnoses,
            lambda d: rx.hstack(
                rx.text(d.code, weight="bold"), rx.text(d.description, size="2"),
                rx.cond(unsigned, rx.button("Remove " + d.code, on_click=ChartState.remove_diagnosis(d.code), variant="ghost", style=TOUCH)),
                align="center",
            ),
        ),
        rx.cond(
            unsigned,
            rx.hstack(
                rx.vstack(
                    rx.el.label("Diagnosis code", html_for="dx-code"),
                    rx.input(id="dx-code", value=ChartState.new_diagnosis, on_change=ChartState.set_new_diagnosis,
                             placeholder="M54.50", size="3", max_length=12),
                    spacing="1",
                ),
                rx.button("Add diagnosis", on_click=ChartState.add_diagnosis, size="3", style=TOUCH),
                align="end",
            ),
        ),
        rx.heading("Procedures", size="4"),
        rx.cond(ChartState.assistant_words != "", rx.text(ChartState.assistant_words, size="2")),
        rx.foreach(
            ChartState.procedures,
            lambda p: rx.hstack(
                rx.text(p.code, weight="bold"), rx.text(p.units, " unit(s)"), rx.text(p.minutes_label, size="2"),
                rx.text(p.modifiers, size="2"),
                rx.cond(unsigned, rx.button("Remove " + p.code, on_click=ChartState.remove_procedure(p.code), variant="ghost", style=TOUCH)),
                align="center",
            ),
        ),
        rx.cond(
            unsigned,
            rx.hstack(
                rx.vstack(
                    rx.el.label("Procedure code", html_for="px-code"),
                    rx.input(id="px-code", value=ChartState.new_procedure, on_change=ChartState.set_new_procedure,
                             placeholder="97110", size="3", max_length=8),
                    spacing="1",
                ),
                rx.vstack(
                    rx.el.label("Units", html_for="px-units"),
                    rx.input(id="px-units", value=ChartState.new_units, on_change=ChartState.set_new_units,
                             input_mode="numeric", size="3", width="80px", max_length=3),
                    spacing="1",
                ),
                rx.vstack(
                    rx.el.label("Minutes (timed codes)", html_for="px-minutes"),
                    rx.input(id="px-minutes", value=ChartState.new_minutes, on_change=ChartState.set_new_minutes,
                             input_mode="numeric", size="3", width="100px", max_length=3),
                    spacing="1",
                ),
                rx.vstack(
                    rx.el.label("Modifiers", html_for="px-modifiers"),
                    rx.input(id="px-modifiers", value=ChartState.new_modifiers, on_change=ChartState.set_new_modifiers,
                             placeholder="GP, 59", size="3", width="110px", max_length=20),
                    spacing="1",
                ),
                rx.button("Add procedure", on_click=ChartState.add_procedure, size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
        ),
        rx.cond(
            unsigned & (ChartState.unit_warnings.length() > 0),
            rx.callout(
                rx.vstack(
                    rx.foreach(ChartState.unit_warnings, lambda w: rx.text("Warning: ", w)),
                    rx.button("Use the units the minutes support", on_click=ChartState.apply_suggested_units,
                              size="3", variant="soft", style=TOUCH),
                    spacing="2",
                ),
                color_scheme="amber",
                role="note",
                aria_label="Units and minutes",
            ),
        ),
        width="100%",
        spacing="2",
    )


def _measure_row(r) -> rx.Component:
    return rx.hstack(
        rx.cond(
            r.label_editable,
            rx.vstack(
                rx.el.label("Activity " + (r.index + 1).to_string(), html_for="measure-label-" + r.index.to_string()),
                rx.input(id="measure-label-" + r.index.to_string(), value=r.label, size="3", max_length=80,
                         on_change=lambda v: ChartState.set_measure_label(r.index, v)),
                spacing="1",
            ),
        ),
        rx.vstack(
            rx.el.label(r.field_label, html_for="measure-value-" + r.index.to_string()),
            rx.input(id="measure-value-" + r.index.to_string(), value=r.value, size="3", width="90px", max_length=3,
                     input_mode="numeric", on_change=lambda v: ChartState.set_measure_value(r.index, v)),
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


def _measures() -> rx.Component:
    unsigned = ChartState.signed_label == ""
    return rx.vstack(
        rx.heading("Outcome measures", size="4"),
        rx.foreach(
            ChartState.measure_results,
            lambda m: rx.box(
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
            ),
        ),
        rx.cond(
            unsigned,
            rx.vstack(
                rx.el.label("Outcome measure to score", html_for="measure-choice"),
                rx.select.root(
                    rx.select.trigger(id="measure-choice", placeholder="Choose a measure", aria_label="Outcome measure to score",
                                      style={"minHeight": "44px"}),
                    rx.select.content(rx.foreach(ChartState.measure_codes, lambda c: rx.select.item(c, value=c))),
                    value=ChartState.measure_code,
                    on_change=ChartState.choose_measure,
                    size="3",
                ),
                rx.cond(
                    ChartState.measure_code != "",
                    rx.vstack(
                        rx.text(ChartState.measure_name, weight="bold"),
                        rx.flex(rx.foreach(ChartState.measure_rows, _measure_row), wrap="wrap", gap="12px"),
                        rx.cond(ChartState.measure_can_add_row,
                                rx.button("Add an activity", on_click=ChartState.add_measure_row, variant="soft",
                                          size="3", style=TOUCH)),
                        rx.button("Score " + ChartState.measure_code, on_click=ChartState.score_measure, size="3",
                                  style=TOUCH),
                        spacing="2",
                        width="100%",
                    ),
                ),
                spacing="2",
                width="100%",
            ),
        ),
        width="100%",
        spacing="2",
    )


def _field(f) -> rx.Component:
    """One structured template field, drawn by its kind (all controls 44 px on a tablet)."""
    control = rx.match(
        f.kind,
        ("body_chart", rx.vstack(
            rx.cond(ChartState.body_marks.length() == 0, rx.text("No regions marked yet."),
                    rx.el.ul(rx.foreach(ChartState.body_marks, lambda m: rx.el.li(m)))),
            rx.link("Mark regions on the body chart", href="#body-chart", style={"minHeight": "44px", "display": "inline-flex",
                                                                             "alignItems": "center"}),
            spacing="1",
        )),
        ("scale", rx.hstack(
            rx.foreach(f.options, lambda n: rx.button(
                n, on_click=ChartState.save_field(f.key, n), variant=rx.cond(f.value == n, "solid", "outline"),
                aria_label=f.label + " " + n, aria_pressed=rx.cond(f.value == n, "true", "false"), size="3",
                style={"minWidth": "44px", "minHeight": "44px", "padding": "0"},
            )),
            spacing="1", wrap="wrap", role="group", aria_label=f.label,
        )),
        ("choice", rx.select.root(
            rx.select.trigger(id=f.field_id, aria_label=f.label, placeholder="Choose", style={"minHeight": "44px"}),
            rx.select.content(rx.foreach(f.options, lambda o: rx.select.item(o, value=o))),
            value=f.value, on_change=lambda v: ChartState.save_field(f.key, v), size="3",
        )),
        ("checklist", rx.vstack(
            rx.foreach(f.options, lambda o: rx.el.label(
                rx.checkbox(checked=f.checked.contains(o), on_change=lambda c: ChartState.toggle_check(f.key, o, c), size="3"),
                rx.text(o),
                style={"display": "flex", "alignItems": "center", "gap": "8px", "minHeight": "44px"},
            )),
            spacing="0", role="group", aria_label=f.label,
        )),
        rx.input(
            id=f.field_id, value=f.value, on_change=lambda v: ChartState.save_field(f.key, v), debounce_timeout=400,
            input_mode=rx.cond(f.kind == "number", "decimal", "text"), size="3", max_length=2000, width="100%",
        ),
    )
    return rx.vstack(
        rx.cond(
            (f.kind == "scale") | (f.kind == "checklist") | (f.kind == "body_chart"),
            rx.text(f.label, weight="medium"),
            rx.el.label(f.label, html_for=f.field_id, style={"fontWeight": "500"}),
        ),
        control,
        spacing="1",
        width="100%",
    )


def _template() -> rx.Component:
    unsigned = ChartState.signed_label == ""
    return rx.vstack(
        rx.cond(
            unsigned & ChartState.own_note,
            rx.hstack(
                rx.el.label("Note template", html_for="note-template", style={"fontWeight": "600"}),
                rx.select.root(
                    rx.select.trigger(id="note-template", aria_label="Note template", style={"minHeight": "44px"}),
                    rx.select.content(rx.foreach(ChartState.template_options, lambda t: rx.select.item(t.name, value=t.code))),
                    value=ChartState.template_code,
                    on_change=ChartState.choose_template,
                    size="3",
                ),
                align="center",
                wrap="wrap",
            ),
        ),
        rx.cond(
            ChartState.fields.length() > 0,
            rx.el.fieldset(
                rx.el.legend("Structured findings", style={"fontWeight": "600"}),
                rx.vstack(rx.foreach(ChartState.fields, _field), spacing="3", width="100%"),
                disabled=~unsigned,
                style={"border": "1px solid var(--gray-6)", "borderRadius": "8px", "padding": "8px 12px", "width": "100%"},
            ),
        ),
        width="100%",
        spacing="2",
    )


def _row(r, handler) -> rx.Component:
    return rx.hstack(
        rx.text(r.text),
        rx.cond(r.action_label != "", rx.button(r.action_label, on_click=handler(r.id), variant="ghost", size="3", style=TOUCH)),
        align="center",
        wrap="wrap",
    )


def _attachment_viewer() -> rx.Component:
    """The attachment being viewed: an image inline, a PDF embedded, with a download either way."""
    return rx.cond(
        ChartState.viewer_src != "",
        rx.card(
            rx.vstack(
                rx.heading("Viewing " + ChartState.viewer_name, size="3"),
                rx.cond(
                    ChartState.viewer_is_pdf,
                    rx.el.object(
                        rx.text("This device cannot show the PDF here; use Download."),
                        data=ChartState.viewer_src, type="application/pdf", title=ChartState.viewer_name,
                        width="100%", height="600", id="attachment-viewer",
                    ),
                    rx.image(src=ChartState.viewer_src, alt=ChartState.viewer_name, max_width="100%", max_height="600px",
                             id="attachment-viewer"),
                ),
                rx.hstack(
                    rx.button("Download " + ChartState.viewer_name, on_click=ChartState.open_attachment(ChartState.viewer_id),
                              variant="soft", size="3", style=TOUCH),
                    rx.button("Close viewer", on_click=ChartState.close_viewer, variant="ghost", size="3", style=TOUCH),
                    wrap="wrap",
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
        ),
    )


def _input(label: str, field_id: str, value, handler, **props) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=field_id),
        rx.input(id=field_id, value=value, on_change=handler, size="3", **props),
        spacing="1",
    )


def _record() -> rx.Component:
    """Problem list (ICD-10-CM search), allergies and medications, with their alerts."""
    return rx.cond(
        ChartState.own_note,
        rx.vstack(
            rx.heading("Problem list", size="4"),
            rx.cond(ChartState.problems.length() == 0, rx.text("No active problems.", size="2")),
            rx.foreach(ChartState.problems, lambda r: _row(r, ChartState.resolve_problem)),
            _input("Search ICD-10-CM (words or code)", "icd-search", ChartState.icd_query, ChartState.search_icd,
                   debounce_timeout=300, max_length=60, width="100%"),
            rx.foreach(
                ChartState.icd_hits,
                lambda h: rx.button(
                    rx.text(h.code, weight="bold"), rx.text(h.description, size="2"),
                    on_click=ChartState.add_problem(h.code), aria_label=h.add_label, variant="surface", size="3",
                    white_space="normal", height="auto",
                    style={"minHeight": "44px", "justifyContent": "flex-start", "textAlign": "left", "width": "100%"},
                ),
            ),
            rx.heading("Treatment plan goals", size="4"),
            rx.cond(ChartState.goals.length() == 0, rx.text("No goals set.", size="2")),
            rx.foreach(
                ChartState.goals,
                lambda g: rx.hstack(
                    rx.text(g.text),
                    rx.select.root(
                        rx.select.trigger(aria_label=g.status_label, style={"minHeight": "44px"}),
                        rx.select.content(rx.foreach(ChartState.goal_statuses, lambda st: rx.select.item(st, value=st))),
                        value=g.status,
                        on_change=lambda st: ChartState.set_goal_status(g.id, st),
                        size="3",
                    ),
                    align="center",
                    wrap="wrap",
                ),
            ),
            rx.hstack(
                rx.vstack(
                    rx.el.label("Goal term", html_for="goal-term"),
                    rx.select.root(
                        rx.select.trigger(id="goal-term", aria_label="Goal term", style={"minHeight": "44px"}),
                        rx.select.content(rx.select.item("short", value="short"), rx.select.item("long", value="long")),
                        value=ChartState.new_goal_term,
                        on_change=ChartState.set_new_goal_term,
                        size="3",
                    ),
                    spacing="1",
                ),
                _input("Goal", "goal-text", ChartState.new_goal_text, ChartState.set_new_goal_text, max_length=200),
                _input("Target date", "goal-date", ChartState.new_goal_date, ChartState.set_new_goal_date, type="date"),
                rx.button("Add goal", on_click=ChartState.add_goal, size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
            rx.heading("Frequency and duration of care", size="4"),
            rx.text(ChartState.care_plan_text, size="2", class_name="care-plan"),
            rx.hstack(
                _input("Visits per week", "plan-per-week", ChartState.plan_per_week, ChartState.set_plan_per_week,
                       type="number", min=1, max=7, width="120px"),
                _input("For how many weeks", "plan-weeks", ChartState.plan_weeks, ChartState.set_plan_weeks,
                       type="number", min=1, max=52, width="120px"),
                _input("Starting", "plan-start", ChartState.plan_start, ChartState.set_plan_start, type="date"),
                rx.button("Save plan of care", on_click=ChartState.save_care_plan, size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
            rx.heading("Home exercise programme", size="4"),
            rx.cond(ChartState.exercises.length() == 0, rx.text("No home exercises yet.", size="2")),
            rx.foreach(ChartState.exercises, lambda r: _row(r, ChartState.stop_exercise)),
            rx.hstack(
                _input("Exercise", "ex-name", ChartState.new_ex_name, ChartState.set_new_ex_name, max_length=80),
                _input("Sets, reps, how often", "ex-dosage", ChartState.new_ex_dosage, ChartState.set_new_ex_dosage,
                       max_length=80),
                _input("Instructions", "ex-instructions", ChartState.new_ex_instructions,
                       ChartState.set_new_ex_instructions, max_length=400),
                rx.button("Add exercise", on_click=ChartState.add_exercise, size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
            rx.button("Print home exercise programme (PDF)", on_click=ChartState.print_home_programme, variant="soft",
                      size="3", style=TOUCH),
            rx.heading("Attachments", size="4"),
            rx.cond(ChartState.attachments.length() == 0, rx.text("No attachments.", size="2")),
            rx.foreach(ChartState.attachments, lambda r: _row(r, ChartState.view_attachment)),
            _attachment_viewer(),
            rx.upload.root(
                rx.vstack(
                    rx.text("Choose or drop an image (PNG, JPEG) or a PDF, up to 5 MB"),
                    rx.text(rx.selected_files("attachment-upload").join(", "), size="2"),
                    align="center",
                    spacing="1",
                ),
                id="attachment-upload",
                accept={"image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"], "application/pdf": [".pdf"]},
                max_files=3,
                border="1px dashed var(--gray-7)",
                padding="16px",
                width="100%",
                style={"minHeight": "64px"},
            ),
            rx.button("Upload attachment", on_click=ChartState.upload_attachment(rx.upload_files(upload_id="attachment-upload")),
                      size="3", style=TOUCH),
            rx.heading("Allergies", size="4"),
            rx.text(ChartState.allergy_words, weight="medium"),
            rx.hstack(
                _input("Allergy to", "allergy-substance", ChartState.new_substance, ChartState.set_new_substance, max_length=80),
                _input("Reaction", "allergy-reaction", ChartState.new_reaction, ChartState.set_new_reaction, max_length=120),
                rx.button("Add allergy", on_click=ChartState.add_allergy(False), size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
            rx.heading("Medications", size="4"),
            rx.cond(ChartState.medications.length() == 0, rx.text("No medications recorded.", size="2")),
            rx.foreach(ChartState.medications, lambda r: _row(r, ChartState.stop_medication)),
            rx.hstack(
                _input("Medication", "med-name", ChartState.new_med_name, ChartState.set_new_med_name, max_length=80),
                rx.vstack(
                    rx.el.label("Class", html_for="med-class"),
                    rx.select.root(
                        rx.select.trigger(id="med-class", aria_label="Class", style={"minHeight": "44px"}),
                        rx.select.content(rx.foreach(ChartState.drug_classes, lambda c: rx.select.item(c, value=c))),
                        value=ChartState.new_med_class,
                        on_change=ChartState.set_new_med_class,
                        size="3",
                    ),
                    spacing="1",
                ),
                _input("Dose", "med-dose", ChartState.new_med_dose, ChartState.set_new_med_dose, max_length=80),
                rx.button("Add medication", on_click=ChartState.add_medication(False), size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
            rx.cond(
                ChartState.pending_alert != "",
                rx.callout(
                    rx.vstack(
                        rx.text(ChartState.pending_alert, weight="bold"),
                        rx.hstack(
                            rx.button("Record anyway", on_click=ChartState.record_anyway, color_scheme="red", size="3", style=TOUCH),
                            rx.button("Do not record", on_click=ChartState.cancel_pending, variant="soft", size="3", style=TOUCH),
                            wrap="wrap",
                        ),
                        spacing="2",
                    ),
                    color_scheme="red",
                    aria_label="Safety alert",
                ),
            ),
            width="100%",
            spacing="2",
        ),
    )


def _conflict() -> rx.Component:
    return rx.cond(
        ChartState.conflict_field != "",
        rx.callout(
            rx.vstack(
                rx.text("Saved on the other device (", ChartState.conflict_field, "):", weight="bold"),
                rx.text(ChartState.conflict_text, white_space="pre-wrap"),
                rx.hstack(
                    rx.button("Keep my text", on_click=ChartState.keep_my_text, size="3", style=TOUCH),
                    rx.button("Use the other device's text", on_click=ChartState.use_other_text, size="3",
                              variant="soft", style=TOUCH),
                    wrap="wrap",
                ),
                spacing="2",
            ),
            color_scheme="amber",
            aria_label="Edit conflict",
        ),
    )


def _signed() -> rx.Component:
    """Who signed and co-signed, addenda below the original, and the forms for both."""
    return rx.cond(
        ChartState.signed_label != "",
        rx.vstack(
            rx.callout(
                rx.vstack(rx.foreach(ChartState.signature_lines, rx.text), rx.text("The note is locked."), spacing="1"),
                color_scheme="green",
                aria_label="Signatures",
            ),
            rx.cond(
                ChartState.can_cosign,
                rx.button("Co-sign note", on_click=ChartState.cosign, size="4", color_scheme="green",
                          style={"minHeight": "56px"}, width="100%"),
            ),
            rx.heading("Addenda", size="4"),
            rx.cond(ChartState.addenda.length() == 0, rx.text("No addenda.", size="2")),
            rx.foreach(
                ChartState.addenda,
                lambda a: rx.box(
                    rx.text(a.heading, weight="bold", size="2"),
                    rx.text(a.text, white_space="pre-wrap"),
                    border_left="4px solid var(--gray-7)",
                    padding_left="8px",
                    width="100%",
                ),
            ),
            rx.el.label("New addendum", html_for="addendum-text", style={"fontWeight": "600"}),
            rx.text_area(id="addendum-text", value=ChartState.new_addendum, on_change=ChartState.set_new_addendum,
                         rows="3", size="3", width="100%", max_length=5000),
            rx.button("Add addendum", on_click=ChartState.add_addendum, size="3", style=TOUCH),
            width="100%",
            spacing="2",
        ),
    )


def _note() -> rx.Component:
    return rx.cond(
        ChartState.note_id != 0,
        rx.vstack(
            rx.hstack(
                rx.heading(ChartState.patient_name, size="5"),
                status_badge(ChartState.visit_status, ChartState.visit_status_label),
                rx.text(ChartState.saved_label, size="2", color_scheme="gray", role="status"),
                align="center",
                wrap="wrap",
            ),
            rx.text(ChartState.visit_label),
            rx.cond(ChartState.own_note, rx.text(ChartState.allergy_words, weight="bold")),
            rx.cond(
                ChartState.own_note & (ChartState.visit_status == "arrived"),
                rx.button("Start session", on_click=ChartState.start_session, size="3", style=TOUCH),
            ),
            rx.cond(
                (ChartState.signed_label == "") & ChartState.own_note,
                rx.button("Copy forward from the last signed note", on_click=ChartState.copy_forward, variant="soft",
                          size="3", style=TOUCH),
            ),
            _template(),
            _conflict(),
            _soap(ChartState.label_subjective, "soap-subjective", ChartState.subjective, ChartState.save_subjective),
            rx.cond(
                ChartState.label_objective != "",
                _soap(ChartState.label_objective, "soap-objective", ChartState.objective, ChartState.save_objective),
            ),
            _soap(ChartState.label_assessment, "soap-assessment", ChartState.assessment, ChartState.save_assessment),
            _soap(ChartState.label_plan, "soap-plan", ChartState.plan, ChartState.save_plan),
            body_chart(),
            _measures(),
            _record(),
            _codes(),
            _signed(),
            rx.cond(
                ChartState.signed_label == "",
                rx.button("Sign note", on_click=ChartState.sign, size="4", color_scheme="green",
                          style={"minHeight": "56px"}, width="100%"),
            ),
            rx.button("Close note", on_click=ChartState.close_note, variant="ghost", size="3", style=TOUCH),
            width="100%",
            spacing="3",
        ),
        rx.text("Choose a patient from today's list to open their note."),
    )


def chart_page() -> rx.Component:
    return frame(
        "Today's patients",
        message_box(ChartState.message, ChartState.message_is_error),
        rx.flex(
            rx.vstack(
                rx.foreach(ChartState.visits, _visit),
                rx.cond(ChartState.visits.length() == 0, rx.text("No visits today.")),
                rx.cond(
                    ChartState.awaiting_cosign.length() > 0,
                    rx.vstack(
                        rx.heading("Awaiting your co-signature", size="4"),
                        rx.foreach(
                            ChartState.awaiting_cosign,
                            lambda c: rx.button(
                                c.label, on_click=ChartState.open_for_cosign(c.note_id), variant="surface",
                                size="3", width="100%", white_space="normal", height="auto",
                                style={"minHeight": "56px", "justifyContent": "flex-start", "textAlign": "left"},
                            ),
                        ),
                        spacing="2",
                        width="100%",
                    ),
                ),
                spacing="2",
                width=rx.breakpoints(initial="100%", md="300px"),
                flex_shrink="0",
            ),
            rx.box(_note(), flex="1", width="100%"),
            direction=rx.breakpoints(initial="column", md="row"),
            gap="16px",
            width="100%",
        ),
    )
