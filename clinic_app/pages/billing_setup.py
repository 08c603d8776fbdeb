"""Billing set-up: payers, fee schedules and self-pay rates, billing profiles, coverage."""

import reflex as rx

from clinic_app.components.layout import frame, message_box
from clinic_app.state.billing_setup import BillingSetupState as S


def _input(label: str, field: str, value, width: str = "180px", **kw) -> rx.Component:
    field_id = "setup-" + field.replace("_", "-")
    return rx.vstack(
        rx.el.label(label, html_for=field_id),
        rx.input(id=field_id, value=value, on_change=lambda v: S.set_form(field, v), width=width, **kw),
        spacing="1",
    )


def _select(label: str, field_id: str, options, value, on_change) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=field_id),
        rx.el.select(
            rx.foreach(options, lambda o: rx.el.option(o.label, value=o.value)),
            id=field_id, value=value, on_change=on_change, height="36px",
        ),
        spacing="1",
    )


def _problem(field: str, field_id: str) -> rx.Component:
    return rx.cond(
        S.cov_problems.contains(field),
        rx.text(S.cov_problems[field], id=f"{field_id}-problem", size="1", color_scheme="red", max_width="240px"),
    )


def _cov_input(label: str, field: str, value, width: str = "180px", **kw) -> rx.Component:
    """A field of the coverage form: what is wrong with it shows beside it (and is its description)."""
    field_id = "setup-" + field.replace("_", "-")
    bad = S.cov_problems.contains(field)
    return rx.vstack(
        rx.el.label(label, html_for=field_id),
        rx.input(id=field_id, value=value, on_change=lambda v: S.set_form(field, v), width=width,
                 aria_invalid=rx.cond(bad, "true", "false"), aria_describedby=rx.cond(bad, f"{field_id}-problem", ""), **kw),
        _problem(field, field_id),
        spacing="1",
    )


def _cov_select(label: str, field: str, options) -> rx.Component:
    field_id = "setup-" + field.replace("_", "-")
    bad = S.cov_problems.contains(field)
    return rx.vstack(
        rx.el.label(label, html_for=field_id),
        rx.el.select(
            rx.foreach(options, lambda o: rx.el.option(o.label, value=o.value)),
            id=field_id, value=getattr(S, field), on_change=lambda v: S.set_cov_choice(field, v), height="36px",
            aria_invalid=rx.cond(bad, "true", "false"), aria_describedby=rx.cond(bad, f"{field_id}-problem", ""),
        ),
        _problem(field, field_id),
        spacing="1",
    )


def _message(section: str) -> rx.Component:
    return rx.cond(S.section == section, message_box(S.message, S.message_is_error))


def _table(headers: tuple[str, ...], body) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(body),
        width="100%",
    )


def _payers() -> rx.Component:
    return rx.el.section(
        rx.heading("Payers", size="4", margin_bottom="8px"),
        _message("payers"),
        _table(
            ("Payer", "Payer id", "Modifiers on every line", "Claim filing indicator", "Status", "Action"),
            rx.foreach(S.payer_rows, lambda p: rx.table.row(
                rx.table.cell(p.name), rx.table.cell(p.code), rx.table.cell(p.modifiers), rx.table.cell(p.filing),
                rx.table.cell(p.status),
                rx.table.cell(rx.button("Edit", on_click=S.edit_payer(p.id), aria_label=p.edit_label, variant="soft")),
            )),
        ),
        rx.heading(rx.cond(S.payer_form_id == 0, "Add a payer", "Edit payer"), size="3", margin_top="12px"),
        rx.hstack(
            _input("Payer name", "payer_name", S.payer_name, "220px"),
            _input("Payer id (from the clearinghouse's list)", "payer_code", S.payer_code),
            _input("Modifiers on every line (e.g. GP)", "payer_modifiers", S.payer_modifiers, "140px"),
            _select("Claim filing indicator (837P SBR09)", "setup-payer-filing", S.filing_options, S.payer_filing,
                    S.set_payer_filing),
            rx.cond(
                S.payer_form_id != 0,
                rx.el.label(
                    rx.checkbox(checked=S.payer_active, on_change=S.set_payer_active, id="setup-payer-active"),
                    " Payer in use", html_for="setup-payer-active", display="flex", align_items="center", gap="6px",
                ),
            ),
            rx.button("Save payer", on_click=S.save_payer),
            rx.cond(S.payer_form_id != 0, rx.button("Cancel edit", on_click=S.new_payer, variant="soft")),
            align="end", spacing="3", wrap="wrap",
        ),
        aria_label="Payers",
    )


def _fees() -> rx.Component:
    return rx.el.section(
        rx.heading("Fee schedules", size="4", margin_top="24px", margin_bottom="8px"),
        rx.text("Charges are priced at signing from the primary payer's schedule, the self-pay rate for patients "
                "without coverage, or the clinic's standard fee for a code with no row here.", size="2"),
        _message("fees"),
        _select("Schedule", "setup-fee-schedule", S.fee_options, S.fee_schedule, S.set_fee_schedule),
        rx.cond(
            S.fee_rows.length() == 0,
            rx.text("No fees in this schedule yet.", color_scheme="gray"),
            _table(
                ("Code", "Per unit ($)", "Action"),
                rx.foreach(S.fee_rows, lambda f: rx.table.row(
                    rx.table.cell(f.code), rx.table.cell(f.amount),
                    rx.table.cell(rx.button("Remove", on_click=S.remove_fee(f.id), aria_label=f.remove_label, variant="soft", color_scheme="red")),
                )),
            ),
        ),
        rx.hstack(
            _input("Procedure code", "fee_code", S.fee_code, "120px"),
            _input("Price per unit ($)", "fee_amount", S.fee_amount, "120px", input_mode="decimal"),
            rx.button("Save fee", on_click=S.save_fee),
            align="end", spacing="3", margin_top="8px",
        ),
        aria_label="Fee schedules",
    )


def _profile() -> rx.Component:
    return rx.el.section(
        rx.heading("Billing profile per location (the 837P's billing provider)", size="4", margin_top="24px", margin_bottom="8px"),
        _message("profile"),
        _select("Location", "setup-location", S.locations, S.location_id, S.set_location),
        rx.hstack(
            _input("Organisation", "bp_org", S.bp_org, "240px"),
            _input("Billing NPI", "bp_npi", S.bp_npi, "130px", input_mode="numeric"),
            _input("Tax id (EIN)", "bp_tax", S.bp_tax, "130px"),
            _input("Street", "bp_street", S.bp_street, "220px"),
            _input("City", "bp_city", S.bp_city, "150px"),
            _input("State", "bp_state", S.bp_state, "60px"),
            _input("ZIP code", "bp_zip", S.bp_zip, "110px", input_mode="numeric"),
            rx.button("Save billing profile", on_click=S.save_profile),
            align="end", spacing="3", wrap="wrap", margin_top="8px",
        ),
        aria_label="Billing profile",
    )


def _coverage() -> rx.Component:
    return rx.el.section(
        rx.heading("Patient coverage", size="4", margin_top="24px", margin_bottom="8px"),
        _message("coverage"),
        rx.hstack(
            _input("Patient MRN", "cov_mrn", S.cov_mrn, "150px"),
            rx.button("Find patient", on_click=S.find_patient),
            align="end", spacing="3",
        ),
        rx.cond(
            S.cov_patient != "",
            rx.vstack(
                rx.text(S.cov_patient, weight="bold"),
                rx.cond(
                    S.coverage_rows.length() == 0,
                    rx.text("No coverage recorded: the patient pays the self-pay rate.", color_scheme="gray"),
                    _table(
                        ("Payer", "Member id", "Group", "Order", "Subscriber", "Dates", "Action"),
                        rx.foreach(S.coverage_rows, lambda c: rx.table.row(
                            *[rx.table.cell(v) for v in (c.payer, c.member_id, c.group, c.priority, c.relationship, c.dates)],
                            rx.table.cell(rx.button("End coverage", on_click=S.end_coverage(c.id), aria_label=c.end_label, variant="soft")),
                        )),
                    ),
                ),
                _input("Last day of coverage, for End coverage (mm/dd/yyyy)", "cov_end", S.cov_end, "170px", type="date"),
                rx.heading("Add coverage", size="3"),
                rx.hstack(
                    _cov_select("Payer", "cov_payer", S.payer_options),
                    _cov_input("Member id", "cov_member", S.cov_member, "150px"),
                    _cov_input("Group number", "cov_group", S.cov_group, "130px"),
                    _cov_select("Order", "cov_priority", S.priority_options),
                    _cov_input("Covered from (mm/dd/yyyy)", "cov_from", S.cov_from, "160px", type="date"),
                    _cov_input("Covered to (empty: open), mm/dd/yyyy", "cov_to", S.cov_to, "160px", type="date"),
                    align="start", spacing="3", wrap="wrap",
                ),
                rx.hstack(
                    _cov_select("Subscriber (policy holder) is", "cov_relationship", S.relationship_options),
                    rx.cond(
                        S.cov_relationship != "self",
                        rx.hstack(
                            _cov_input("Subscriber first name", "cov_first", S.cov_first, "150px"),
                            _cov_input("Subscriber last name", "cov_last", S.cov_last, "150px"),
                            _cov_input("Subscriber birth date (mm/dd/yyyy)", "cov_birth", S.cov_birth, "160px", type="date"),
                            _cov_select("Subscriber's sex (administrative)", "cov_sex", S.sex_options),
                            _cov_input("Subscriber street", "cov_street", S.cov_street, "200px"),
                            _cov_input("City", "cov_city", S.cov_city, "130px"),
                            _cov_input("State", "cov_state", S.cov_state, "60px"),
                            _cov_input("ZIP code", "cov_zip", S.cov_zip, "110px"),
                            align="start", spacing="3", wrap="wrap",
                        ),
                    ),
                    align="start", spacing="3", wrap="wrap",
                ),
                rx.button("Add coverage", on_click=S.add_coverage),
                spacing="3", width="100%",
            ),
        ),
        aria_label="Patient coverage",
    )


def billing_setup_page() -> rx.Component:
    return frame(
        "Billing set-up",
        rx.link("Back to the billing queue", href="/billing", size="2"),
        _payers(),
        _fees(),
        _profile(),
        rx.cond(S.can_cover, _coverage()),
    )
