"""Admin pages for charting: note templates and the clinic's own outcome measures."""

import reflex as rx

from clinic_app.components.layout import frame, message_box, option_select
from clinic_app.services.charting.clinicians import ASSISTANT_KINDS
from clinic_app.services.charting.templates import KIND_WORDS, SECTIONS
from clinic_app.services.portal.intake import KIND_WORDS as INTAKE_KIND_WORDS
from clinic_app.state.charting_admin import ClinicianAdminState, IntakeAdminState, MeasureAdminState, TemplateAdminState

T = TemplateAdminState
_TOUCH = {"minHeight": "44px"}


def _labelled(label: str, control_id: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.el.label(label, html_for=control_id, style={"fontWeight": "500"}), control, spacing="1")


def _native_select(control_id: str, value, on_change, options: list[tuple[str, str]], **props) -> rx.Component:
    return rx.el.select(
        *[rx.el.option(words, value=v) for v, words in options],
        id=control_id, value=value, on_change=on_change, style={**_TOUCH, "padding": "0 8px"}, **props,
    )


def _template_row(t) -> rx.Component:
    return rx.table.row(
        rx.table.cell(t.name),
        rx.table.cell(t.code),
        rx.table.cell(t.discipline),
        rx.table.cell(t.kinds),
        rx.table.cell(t.form),
        rx.table.cell(t.version),
        rx.table.cell(rx.badge(t.status, color_scheme=rx.cond(t.retired, "gray", "green"), high_contrast=True)),
        rx.table.cell(rx.button("Edit", on_click=T.open_template(t.code), variant="soft", aria_label="Edit " + t.name,
                                style=_TOUCH)),
    )


_SECTION_CHOICES = [(s, s.title()) for s in SECTIONS]
_KIND_CHOICES = list(KIND_WORDS.items())


def _field_editor(f) -> rx.Component:
    fid = "tf-" + f.index.to_string()
    n = "Field " + (f.index + 1).to_string() + " "  # each control's name says which field it belongs to
    return rx.card(
        rx.flex(
            rx.text("Field " + (f.index + 1).to_string(), weight="bold", width="100%"),
            _labelled("Label", fid + "-label",
                      rx.input(id=fid + "-label", aria_label=n + "label", value=f.label, max_length=80, size="3",
                               on_change=lambda v: T.set_field(f.index, "label", v))),
            _labelled("Section", fid + "-section",
                      _native_select(fid + "-section", f.section, lambda v: T.set_field(f.index, "section", v), _SECTION_CHOICES,
                                     aria_label=n + "section")),
            _labelled("Kind", fid + "-kind",
                      _native_select(fid + "-kind", f.kind, lambda v: T.set_field(f.index, "kind", v), _KIND_CHOICES,
                                     aria_label=n + "kind")),
            rx.cond(
                (f.kind == "choice") | (f.kind == "checklist"),
                _labelled("Options, one per line", fid + "-options",
                          rx.text_area(id=fid + "-options", aria_label=n + "options, one per line", value=f.options, rows="4", width="260px",
                                       on_change=lambda v: T.set_field(f.index, "options", v))),
            ),
            rx.cond(
                (f.kind == "number") | (f.kind == "scale"),
                rx.hstack(
                    _labelled("Lowest", fid + "-low",
                              rx.input(id=fid + "-low", aria_label=n + "lowest", value=f.low, width="90px", size="3", input_mode="numeric",
                                       on_change=lambda v: T.set_field(f.index, "low", v))),
                    _labelled("Highest", fid + "-high",
                              rx.input(id=fid + "-high", aria_label=n + "highest", value=f.high, width="90px", size="3", input_mode="numeric",
                                       on_change=lambda v: T.set_field(f.index, "high", v))),
                ),
            ),
            rx.cond(
                f.kind == "number",
                _labelled("Unit", fid + "-unit",
                          rx.input(id=fid + "-unit", aria_label=n + "unit", value=f.unit, width="120px", size="3", max_length=20,
                                   on_change=lambda v: T.set_field(f.index, "unit", v))),
            ),
            rx.hstack(
                rx.button("Move up", on_click=T.move_field(f.index, -1), variant="soft", style=_TOUCH,
                          aria_label="Move " + f.name + " up", disabled=f.index == 0),
                rx.button("Move down", on_click=T.move_field(f.index, 1), variant="soft", style=_TOUCH,
                          aria_label="Move " + f.name + " down", disabled=f.index == T.edit_fields.length() - 1),
                rx.button("Remove", on_click=T.remove_field(f.index), variant="soft", color_scheme="red", style=_TOUCH,
                          aria_label="Remove " + f.name),
                spacing="2",
                align="end",
            ),
            gap="12px",
            wrap="wrap",
            align="end",
        ),
        width="100%",
        flex_shrink="0",
        margin_bottom="12px",
    )


def _section_label(section: str) -> rx.Component:
    control_id = f"section-{section}"
    return _labelled(
        f"{section.title()} section name (blank: the usual name)", control_id,
        rx.input(id=control_id, value=getattr(T, f"label_{section}"), max_length=40, size="3", width="220px",
                 on_change=lambda v: T.set_label(section, v),
                 disabled=(T.edit_form == "DAP") if section == "objective" else False),
    )


def _editor() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(rx.cond(T.is_new, "New template", "Edit " + T.edit_name), size="4"),
            rx.text(T.version_words, size="2"),
            rx.cond(
                T.edit_history.length() > 0,
                rx.el.details(
                    rx.el.summary("Saved versions (notes keep the one they were written with)",
                                  style={**_TOUCH, "lineHeight": "44px", "cursor": "pointer"}),
                    rx.el.ul(rx.foreach(T.edit_history, lambda h: rx.el.li(h))),
                ),
            ),
            rx.cond(T.edit_retired, rx.text("Retired: not offered for new notes.", weight="bold")),
            rx.flex(
                _labelled("Code", "tpl-code", rx.input(id="tpl-code", value=T.edit_code, on_change=T.set_edit_code, size="3",
                                                       max_length=24, width="140px", disabled=~T.is_new)),
                _labelled("Name", "tpl-name", rx.input(id="tpl-name", value=T.edit_name, on_change=T.set_edit_name, size="3",
                                                       max_length=120, width="320px")),
                _labelled("Discipline (blank: any)", "tpl-discipline",
                          rx.input(id="tpl-discipline", value=T.edit_discipline, on_change=T.set_edit_discipline, size="3",
                                   max_length=40, width="200px")),
                _labelled("Form", "tpl-form", _native_select("tpl-form", T.edit_form, T.set_edit_form,
                                                             [("SOAP", "SOAP: Subjective, Objective, Assessment, Plan"),
                                                              ("DAP", "DAP: Data, Assessment, Plan")])),
                gap="12px",
                wrap="wrap",
                align="end",
            ),
            rx.el.fieldset(
                rx.el.legend("Visit kinds it suits first (none: any)"),
                rx.flex(
                    rx.foreach(T.visit_kinds, lambda k: rx.el.label(
                        rx.checkbox(checked=T.edit_kinds.contains(k), on_change=lambda c: T.toggle_kind(k, c), size="3"),
                        k, style={**_TOUCH, "display": "flex", "alignItems": "center", "gap": "8px", "padding": "0 8px"},
                    )),
                    gap="8px",
                    wrap="wrap",
                ),
            ),
            rx.flex(*[_section_label(s) for s in SECTIONS], gap="12px", wrap="wrap"),
            rx.heading("Fields", size="3"),
            rx.cond(T.edit_fields.length() == 0, rx.text("No structured fields: the note is free text only.")),
            rx.box(rx.foreach(T.edit_fields, _field_editor), width="100%"),
            rx.hstack(
                rx.button("Add a field", on_click=T.add_template_field, variant="soft", style=_TOUCH),
                rx.button("Save template", on_click=T.save, style=_TOUCH),
                rx.cond(
                    ~T.is_new,
                    rx.cond(T.edit_retired,
                            rx.button("Bring back into use", on_click=T.restore, variant="outline", style=_TOUCH),
                            rx.button("Retire template", on_click=T.retire, variant="outline", color_scheme="red",
                                      style=_TOUCH)),
                ),
                rx.button("Close editor", on_click=T.close_editor, variant="ghost", style=_TOUCH),
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        margin_top="16px",
    )


def templates_page() -> rx.Component:
    return frame(
        "Note templates",
        rx.text("Editing a template saves a new version: notes already written keep the version they were written with."),
        message_box(T.message, T.message_is_error),
        rx.flex(
            _labelled("Discipline", "filter-discipline",
                      option_select("filter-discipline", "Discipline", T.disciplines, T.filter_discipline, T.set_filter_discipline)),
            _labelled("Visit kind", "filter-kind",
                      rx.el.select(rx.el.option("All visit kinds", value="all"),
                                   rx.foreach(T.visit_kinds, lambda k: rx.el.option(k, value=k)),
                                   id="filter-kind", value=T.filter_kind, on_change=T.set_filter_kind,
                                   style={**_TOUCH, "padding": "0 8px"})),
            rx.button("New template", on_click=T.new_template, style=_TOUCH),
            gap="12px",
            align="end",
            wrap="wrap",
            margin_y="12px",
        ),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Template", "Code", "Discipline", "Visit kinds", "Form", "Version", "Status", "")])),
            rx.table.body(rx.foreach(T.rows, _template_row)),
            width="100%",
        ),
        rx.cond(T.editing, _editor()),
        _intake_forms(),
    )


# -- intake forms ----------------------------------------------------------------------------
I = IntakeAdminState  # noqa: E741
_INTAKE_KINDS = list(INTAKE_KIND_WORDS.items())


def _intake_row(r) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r.title),
        rx.table.cell(r.code),
        rx.table.cell(r.kinds),
        rx.table.cell(r.version),
        rx.table.cell(rx.badge(r.status, color_scheme=rx.cond(r.retired, "gray", "green"), high_contrast=True)),
        rx.table.cell(rx.button("Edit", on_click=I.open_form(r.code), variant="soft", aria_label="Edit " + r.title,
                                style=_TOUCH)),
    )


def _intake_field(f) -> rx.Component:
    fid = "if-" + f.index.to_string()
    n = "Intake field " + (f.index + 1).to_string() + " "
    return rx.card(
        rx.flex(
            rx.text("Field " + (f.index + 1).to_string(), weight="bold", width="100%"),
            _labelled("Label", fid + "-label",
                      rx.input(id=fid + "-label", aria_label=n + "label", value=f.label, max_length=80, size="3",
                               on_change=lambda v: I.set_field(f.index, "label", v))),
            _labelled("Kind", fid + "-kind",
                      _native_select(fid + "-kind", f.kind, lambda v: I.set_field(f.index, "kind", v), _INTAKE_KINDS,
                                     aria_label=n + "kind")),
            rx.cond(
                f.kind != "consent",
                rx.el.label(
                    rx.checkbox(checked=f.required, on_change=lambda c: I.set_field(f.index, "required", c), size="3"),
                    "Required", style={**_TOUCH, "display": "flex", "alignItems": "center", "gap": "8px"},
                ),
            ),
            rx.cond(
                (f.kind == "choice") | (f.kind == "checklist"),
                _labelled("Options, one per line", fid + "-options",
                          rx.text_area(id=fid + "-options", aria_label=n + "options, one per line", value=f.options,
                                       rows="4", width="260px", on_change=lambda v: I.set_field(f.index, "options", v))),
            ),
            rx.cond(
                (f.kind == "number") | (f.kind == "scale"),
                rx.hstack(
                    _labelled("Lowest", fid + "-low",
                              rx.input(id=fid + "-low", aria_label=n + "lowest", value=f.low, width="90px", size="3",
                                       on_change=lambda v: I.set_field(f.index, "low", v))),
                    _labelled("Highest", fid + "-high",
                              rx.input(id=fid + "-high", aria_label=n + "highest", value=f.high, width="90px", size="3",
                                       on_change=lambda v: I.set_field(f.index, "high", v))),
                ),
            ),
            rx.cond(
                f.kind == "number",
                _labelled("Unit", fid + "-unit",
                          rx.input(id=fid + "-unit", aria_label=n + "unit", value=f.unit, width="120px", size="3",
                                   max_length=20, on_change=lambda v: I.set_field(f.index, "unit", v))),
            ),
            rx.cond(
                f.kind == "consent",
                _labelled("The text the patient signs", fid + "-text",
                          rx.text_area(id=fid + "-text", aria_label=n + "text the patient signs", value=f.text, rows="6",
                                       width="100%", on_change=lambda v: I.set_field(f.index, "text", v))),
            ),
            rx.hstack(
                rx.button("Move up", on_click=I.move_field(f.index, -1), variant="soft", style=_TOUCH,
                          aria_label="Move intake field " + f.name + " up", disabled=f.index == 0),
                rx.button("Move down", on_click=I.move_field(f.index, 1), variant="soft", style=_TOUCH,
                          aria_label="Move intake field " + f.name + " down",
                          disabled=f.index == I.edit_fields.length() - 1),
                rx.button("Remove", on_click=I.remove_field(f.index), variant="soft", color_scheme="red", style=_TOUCH,
                          aria_label="Remove intake field " + f.name),
                spacing="2",
            ),
            gap="12px",
            wrap="wrap",
            align="end",
        ),
        width="100%",
        margin_bottom="12px",
    )


def _intake_editor() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(rx.cond(I.edit_version == -2, "New intake form", "Edit " + I.edit_title), size="4"),
            rx.cond(I.edit_version > 0,
                    rx.text("Version " + I.edit_version.to_string() + "; saving makes the next version.", size="2")),
            rx.cond(I.edit_retired, rx.text("Retired: no longer asked for.", weight="bold")),
            rx.flex(
                _labelled("Code", "intake-code", rx.input(id="intake-code", value=I.edit_code, on_change=I.set_edit_code,
                                                          size="3", max_length=24, width="160px",
                                                          disabled=I.edit_version != -2)),
                _labelled("Title", "intake-title", rx.input(id="intake-title", value=I.edit_title,
                                                            on_change=I.set_edit_title, size="3", max_length=120,
                                                            width="320px")),
                gap="12px",
                wrap="wrap",
            ),
            rx.el.fieldset(
                rx.el.legend("Asked for before the first visit of these appointment types"),
                rx.flex(
                    rx.foreach(I.appointment_types, lambda k: rx.el.label(
                        rx.checkbox(checked=I.edit_kinds.contains(k), on_change=lambda c: I.toggle_kind(k, c), size="3"),
                        k, style={**_TOUCH, "display": "flex", "alignItems": "center", "gap": "8px", "padding": "0 8px"},
                    )),
                    gap="8px",
                    wrap="wrap",
                ),
            ),
            rx.heading("Fields", size="3"),
            rx.box(rx.foreach(I.edit_fields, _intake_field), width="100%"),
            rx.hstack(
                rx.button("Add an intake field", on_click=I.add_intake_field, variant="soft", style=_TOUCH),
                rx.button("Save intake form", on_click=I.save, style=_TOUCH),
                rx.cond(
                    I.edit_version > 0,
                    rx.cond(I.edit_retired,
                            rx.button("Ask for it again", on_click=I.restore, variant="outline", style=_TOUCH),
                            rx.button("Retire intake form", on_click=I.retire, variant="outline", color_scheme="red",
                                      style=_TOUCH)),
                ),
                rx.button("Close intake editor", on_click=I.close_form, variant="ghost", style=_TOUCH),
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        margin_top="16px",
    )


def _intake_forms() -> rx.Component:
    return rx.el.section(
        rx.heading("Intake forms", size="5", margin_top="24px", id="intake-forms"),
        rx.text("What a patient fills in and signs from the link in their reminder before the first visit of the "
                "appointment types chosen. Editing saves a new version: answers keep the version they answered."),
        message_box(I.message, I.message_is_error),
        rx.button("New intake form", on_click=I.new_form, style=_TOUCH, margin_y="12px"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Intake form", "Code", "Appointment types", "Version", "Status", "")])),
            rx.table.body(rx.foreach(I.rows, _intake_row)),
            width="100%",
        ),
        rx.cond(I.edit_version != -1, _intake_editor()),
        aria_labelledby="intake-forms",
    )


M = MeasureAdminState


def _measure_row(m) -> rx.Component:
    return rx.table.row(
        rx.table.cell(m.code),
        rx.table.cell(m.name),
        rx.table.cell(m.item_words),
        rx.table.cell(m.scoring),
        rx.table.cell(m.mcid),
        rx.table.cell(rx.badge(m.status, color_scheme=rx.cond(m.active, "green", "gray"), high_contrast=True)),
        rx.table.cell(rx.cond(
            m.active,
            rx.button("Retire", on_click=M.retire(m.code), variant="soft", color_scheme="red", aria_label="Retire " + m.code,
                      style=_TOUCH),
            rx.button("Bring back", on_click=M.restore(m.code), variant="soft", aria_label="Bring back " + m.code, style=_TOUCH),
        )),
    )


def _measure_input(label: str, name: str, **props) -> rx.Component:
    return _labelled(label, f"measure-{name}", rx.input(id=f"measure-{name}", name=name, size="3", **props))


def measures_page() -> rx.Component:
    return frame(
        "Outcome measures",
        rx.text("Built in: NPRS, PSFS and LEFS. Define the clinic's own below; clinicians score them on the chart, "
                "and the score is worked out from the items."),
        message_box(M.message, M.message_is_error),
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Define a measure", size="4"),
                    rx.flex(
                        _measure_input("Code", "code", max_length=16, width="120px", placeholder="e.g. ODI"),
                        _measure_input("Name", "name", max_length=120, width="320px"),
                        gap="12px", wrap="wrap",
                    ),
                    _labelled("Items, one per line", "measure-items",
                              rx.text_area(id="measure-items", name="items", rows="6", width="100%")),
                    rx.flex(
                        _measure_input("Lowest item score", "item_min", default_value="0", width="110px", input_mode="numeric"),
                        _measure_input("Highest item score", "item_max", default_value="5", width="110px", input_mode="numeric"),
                        _labelled("Scoring", "measure-scoring", rx.el.select(
                            rx.el.option("Sum of the items", value="sum"), rx.el.option("Mean of the items", value="mean"),
                            rx.el.option("Percent of the highest possible total", value="percent"),
                            id="measure-scoring", name="scoring", style={**_TOUCH, "padding": "0 8px"})),
                        _measure_input("Minimal clinically important difference (MCID)", "mcid", width="110px",
                                       input_mode="decimal"),
                        _labelled("Better scores are", "measure-direction", rx.el.select(
                            rx.el.option("Higher", value="higher"), rx.el.option("Lower", value="lower"),
                            id="measure-direction", name="direction", style={**_TOUCH, "padding": "0 8px"})),
                        gap="12px", wrap="wrap", align="end",
                    ),
                    rx.button("Define measure", type="submit", style=_TOUCH),
                    spacing="3",
                    width="100%",
                ),
                on_submit=M.define,
                reset_on_submit=False,
            ),
            margin_y="12px",
        ),
        rx.heading("The clinic's measures", size="4"),
        rx.cond(M.rows.length() == 0, rx.text("None defined yet.")),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Code", "Name", "Items", "Scoring", "MCID", "Status", "")])),
            rx.table.body(rx.foreach(M.rows, _measure_row)),
            width="100%",
        ),
    )


C = ClinicianAdminState


def _clinician_row(r) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r.name),
        rx.table.cell(r.discipline),
        rx.table.cell(_native_select("kind-" + r.id.to_string(), r.assistant_kind, lambda v: C.set_kind(r.id, v),
                                     list(ASSISTANT_KINDS.items()), aria_label="Assistant kind of " + r.name)),
        rx.table.cell(rx.el.select(
            rx.foreach(C.choices, lambda o: rx.el.option(o.label, value=o.value)),
            id="supervisor-" + r.id.to_string(), value=r.supervisor, on_change=lambda v: C.set_supervisor(r.id, v),
            aria_label="Supervisor of " + r.name, style={**_TOUCH, "padding": "0 8px"},
        )),
        rx.table.cell(r.words),
    )


def clinicians_page() -> rx.Component:
    return frame(
        "Clinicians",
        rx.text("A physical or occupational therapy assistant's charges carry CQ or CO. An assistant's or student's "
                "notes are co-signed by their supervisor before the visit is billed."),
        message_box(C.message, C.message_is_error),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in
                                           ("Clinician", "Discipline", "Assistant", "Supervisor", "In words")])),
            rx.table.body(rx.foreach(C.rows, _clinician_row)),
            width="100%",
        ),
    )
