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
                _input("Last day of coverage (for End coverage)", "cov_end", S.cov_end, "170px", type="date"),
                rx.heading("Add coverage", size="3"),
                rx.hstack(
                    _select("Payer", "setup-cov-payer", S.payer_options, S.cov_payer, lambda v: S.set_cov_choice("cov_payer", v)),
                    _input("Member id", "cov_member", S.cov_member, "150px"),
                    _input("Group number", "cov_group", S.cov_group, "130px"),
                    rx.vstack(
                        rx.el.label("Order", html_for="setup-cov-priority"),
                        rx.el.select(rx.el.option("Primary", value="1"), rx.el.option("Secondary", value="2"), id="setup-cov-priority",
                                     value=S.cov_priority, on_change=lambda v: S.set_cov_choice("cov_priority", v), height="36px"),
                        spacing="1",
                    ),
                    _input("Covered from", "cov_from", S.cov_from, "160px", type="date"),
                    _input("Covered to (empty: open)", "cov_to", S.cov_to, "160px", type="date"),
                    align="end", spacing="3", wrap="wrap",
                ),
                rx.hstack(
                    rx.vstack(
                        rx.el.label("Subscriber (policy holder) is", html_for="setup-cov-relationship"),
                        rx.el.select(
                            rx.el.option("The patient", value="self"), rx.el.option("The patient's spouse", value="spouse"),
                            rx.el.option("The patient's parent (patient is a child)", value="child"), rx.el.option("Someone else", value="other"),
                            id="setup-cov-relationship", value=S.cov_relationship,
                            on_change=lambda v: S.set_cov_choice("cov_relationship", v), height="36px",
                        ),
                        spacing="1",
                    ),
                    rx.cond(
                        S.cov_relationship != "self",
                        rx.hstack(
                            _input("Subscriber first name", "cov_first", S.cov_first, "150px"),
                            _input("Subscriber last name", "cov_last", S.cov_last, "150px"),
                            _input("Subscriber birth date", "cov_birth", S.cov_birth, "160px", type="date"),
                            _select("Subscriber's sex (administrative)", "setup-cov-sex", S.sex_options, S.cov_sex,
                                    lambda v: S.set_cov_choice("cov_sex", v)),
                            _input("Subscriber street", "cov_street", S.cov_street, "200px"),
                            _input("City", "cov_city", S.cov_city, "130px"),
                            _input("State", "cov_state", S.cov_state, "60px"),
                            _input("ZIP code", "cov_zip", S.cov_zip, "110px"),
                            align="end", spacing="3", wrap="wrap",
                        ),
                    ),
                    align="end", spacing="3", wrap="wrap",
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
