"""The biller's day: the live queue, claims to send, the denial worklist, AR aging."""

import reflex as rx

from clinic_app.components.layout import frame, message_box
from clinic_app.components.status_badge import status_badge
from clinic_app.state.billing import BillingQueueState


def _row(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.service_date, " ", row.time_label),
        rx.table.cell(row.patient_name, rx.text(row.mrn, size="1", color_scheme="gray")),
        rx.table.cell(row.provider_name),
        rx.table.cell(
            rx.foreach(
                row.charges,
                lambda c: rx.text(c.code, " x", c.units, "  $", c.amount, "  (", c.diagnoses, ")", size="2"),
            )
        ),
        rx.table.cell("$", row.total),
        rx.table.cell(status_badge("ready_to_bill", row.status_label)),
        rx.table.cell(
            rx.hstack(
                rx.button("Create claim", on_click=BillingQueueState.create_claim(row.id), aria_label=row.claim_label),
                rx.button("Mark billed", on_click=BillingQueueState.mark_billed(row.id), aria_label=row.bill_label,
                          variant="soft", title="Bill the patient directly (self-pay)"),
                spacing="2",
            )
        ),
        class_name="queue-row",
    )


def billing_page() -> rx.Component:
    return frame(
        "Billing queue",
        rx.hstack(
            rx.el.label("Location", html_for="billing-location"),
            rx.select.root(
                rx.select.trigger(id="billing-location", aria_label="Location"),
                rx.select.content(rx.foreach(BillingQueueState.locations, lambda o: rx.select.item(o.label, value=o.value))),
                value=BillingQueueState.location_id,
                on_change=BillingQueueState.set_location,
            ),
            rx.text(BillingQueueState.rows.length(), " visits ready to bill, $", BillingQueueState.queue_total),
            align="center",
            spacing="3",
            margin_bottom="12px",
        ),
        message_box(BillingQueueState.message, BillingQueueState.message_is_error),
        rx.cond(
            BillingQueueState.problems.length() > 0,
            rx.el.ul(rx.foreach(BillingQueueState.problems, lambda p: rx.el.li(p)), aria_label="What to fix", class_name="problems",
                     margin_bottom="12px", padding_left="20px", color="var(--red-11)"),
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(h) for h in ("Date of service", "Patient", "Provider", "Charges", "Total", "Status", "Action")]
                )
            ),
            rx.table.body(rx.foreach(BillingQueueState.rows, _row)),
            width="100%",
        ),
        rx.button("Create claims for all ready visits", on_click=BillingQueueState.create_all_claims, variant="outline", margin_top="8px"),
        _claims_section(),
        _recent_claims_section(),
        _denials_section(),
        _account_section(),
        _aging_section(),
        _reports_section(),
    )


def _claims_section() -> rx.Component:
    return rx.el.section(
        rx.heading("Claims", size="4", margin_top="24px", margin_bottom="8px"),
        rx.flex(
            rx.foreach(
                BillingQueueState.claim_counts,
                lambda c: rx.hstack(rx.badge(c.label, variant="soft", size="2"), rx.text(c.count, weight="bold"),
                                    role="group", aria_label=c.label + " claims: " + c.count.to(str)),
            ),
            wrap="wrap", gap="16px", margin_bottom="8px",
        ),
        rx.text(BillingQueueState.rates_line, size="2", margin_bottom="8px"),
        rx.button(
            "Send ", BillingQueueState.ready_to_send, " claims (download 837P)",
            on_click=BillingQueueState.send_claims, disabled=BillingQueueState.ready_to_send == 0,
        ),
        aria_label="Claims",
    )


def _denial(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.number),
        rx.table.cell(row.payer),
        rx.table.cell(row.service_date),
        rx.table.cell("$", row.total),
        rx.table.cell(row.status),
        rx.table.cell(row.reasons),
        rx.table.cell(
            rx.hstack(
                # A rejected claim never reached the payer: it is corrected, not appealed.
                rx.cond(row.status == "Denied",
                        rx.button("Appeal", on_click=BillingQueueState.appeal(row.claim_id), aria_label=row.appeal_label, variant="soft")),
                rx.button("Correct and resend", on_click=BillingQueueState.resend(row.claim_id), aria_label=row.resend_label, variant="soft"),
                spacing="2",
            )
        ),
    )


def _recent_claim(row) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.number, rx.cond(row.follows != "", rx.text(row.follows, size="1", color_scheme="gray"))),
        *[rx.table.cell(v) for v in (row.patient, row.payer, row.service_date, row.status)],
        rx.table.cell("$", row.total),
        rx.table.cell(
            rx.hstack(
                rx.button("Claim form (PDF)", on_click=BillingQueueState.download_claim_form(row.claim_id),
                          aria_label=row.form_label, variant="outline"),
                rx.cond(
                    row.can_bill_secondary,
                    rx.button("Bill secondary payer", on_click=BillingQueueState.bill_secondary(row.claim_id),
                              aria_label=row.secondary_label, variant="soft"),
                ),
                spacing="2",
            )
        ),
    )


def _recent_claims_section() -> rx.Component:
    headers = ("Claim", "Patient", "Payer", "Date of service", "Status", "Total", "Action")
    return rx.el.section(
        rx.heading("Recent claims", size="4", margin_top="24px", margin_bottom="8px"),
        rx.cond(
            BillingQueueState.recent_claims.length() == 0,
            rx.text("No claims yet.", color_scheme="gray"),
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
                rx.table.body(rx.foreach(BillingQueueState.recent_claims, _recent_claim)),
                width="100%",
            ),
        ),
        aria_label="Recent claims",
    )


def _denials_section() -> rx.Component:
    return rx.el.section(
        rx.heading("Denial worklist", size="4", margin_top="24px", margin_bottom="8px"),
        rx.cond(
            BillingQueueState.denials.length() == 0,
            rx.text("No denied or rejected claims.", color_scheme="gray"),
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in ("Claim", "Payer", "Date of service", "Total", "Status", "Reasons", "Action")])),
                rx.table.body(rx.foreach(BillingQueueState.denials, _denial)),
                width="100%",
            ),
        ),
        aria_label="Denial worklist",
    )


def _aging_section() -> rx.Component:
    headers = ("Payer", "0-30 days", "31-60", "61-90", "90+", "Unapplied", "Total")
    return rx.el.section(
        rx.hstack(
            rx.heading("Accounts receivable by payer (age by date of service)", size="4"),
            rx.button("Download CSV", on_click=BillingQueueState.download_aging, variant="outline", aria_label="Download AR aging as CSV"),
            align="center", spacing="3", margin_top="24px", margin_bottom="8px",
        ),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(
                rx.foreach(
                    BillingQueueState.aging,
                    lambda a: rx.table.row(*[rx.table.cell(v) for v in (a.name, a.b0_30, a.b31_60, a.b61_90, a.b90, a.unapplied, a.total)]),
                )
            ),
            width="100%",
        ),
        aria_label="Accounts receivable",
    )


def _table(headers: tuple[str, ...], rows, cells) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(rows, lambda r: rx.table.row(*[rx.table.cell(v) for v in cells(r)]))),
        width="100%",
    )


def _report_heading(title: str, download=None, what: str = "") -> rx.Component:
    parts = [rx.heading(title, size="4")]
    if download is not None:
        parts.append(rx.button("Download CSV", on_click=download, variant="outline", aria_label=f"Download {what} as CSV"))
    return rx.hstack(*parts, align="center", spacing="3", margin_top="24px", margin_bottom="8px")


def _reports_section() -> rx.Component:
    s = BillingQueueState
    return rx.el.section(
        _report_heading("Patient balances by age (date of service)", s.download_patient_aging, "patient balances by age"),
        _table(("Patient", "0-30 days", "31-60", "61-90", "90+", "Unapplied", "Total"), s.aging_patients,
               lambda a: (a.name, a.b0_30, a.b31_60, a.b61_90, a.b90, a.unapplied, a.total)),
        _report_heading("Denials by reason, last 30 days"),
        rx.cond(s.denial_reasons.length() == 0, rx.text("No denials in the last 30 days.", size="2")),
        _table(("Reason (group-CARC)", "What it means", "Claims", "Share of denials"), s.denial_reasons,
               lambda r: (r.reason, r.words, r.claims, r.share)),
        _report_heading("Payments by month, last 12 months", s.download_payments, "payments by month"),
        _table(("Month", "From insurance", "From patients", "Total"), s.payment_periods,
               lambda r: (r.period, r.insurance, r.patient, r.total)),
        aria_label="Reports",
    )


def _field(label: str, field_id: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.el.label(label, html_for=field_id), control, spacing="1")


def _account_section() -> rx.Component:
    s = BillingQueueState
    return rx.el.section(
        rx.heading("Patient account", size="4", margin_top="24px", margin_bottom="8px"),
        rx.hstack(
            rx.form(
                rx.hstack(
                    _field("Patient MRN, name, date of birth or phone", "account-mrn",
                           rx.input(id="account-mrn", name="account_query", value=s.account_query, on_change=s.set_account_query, width="300px",
                                    max_length=80, placeholder="Moore, Linda or P0000167")),
                    rx.button("Find account", type="submit"),
                    align="end", spacing="3",
                ),
                on_submit=s.find_account,
                reset_on_submit=False,
            ),
            align="end", spacing="3",
        ),
        rx.cond(
            s.account_matches.length() > 0,
            rx.el.ul(
                rx.foreach(s.account_matches, lambda o: rx.el.li(
                    rx.button("Open the account of " + o.label, on_click=s.open_account(o.value), variant="soft", size="2",
                              min_height="36px"),
                    margin_bottom="4px",
                )),
                aria_label="Patients who match; choose one",
                style={"listStyle": "none", "paddingLeft": "0", "marginTop": "8px"},
            ),
        ),
        rx.cond(
            s.account_name != "",
            rx.vstack(
                rx.text(s.account_name, weight="bold"),
                rx.text("Patient owes $", s.account_patient_owes, "; insurance still to pay $", s.account_insurance_owes, "."),
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in ("Posted", "Service", "Entry", "Owed by", "Detail", "Amount", "Correct")])),
                    rx.table.body(rx.foreach(s.account_entries, _entry)),
                    width="100%",
                ),
                _reverse_panel(),
                rx.hstack(
                    _field("Amount paid ($)", "pay-amount", rx.input(id="pay-amount", value=s.pay_amount, on_change=s.set_pay_amount, width="120px", input_mode="decimal")),
                    _field("Paid by", "pay-method", rx.el.select(
                        rx.el.option("Cash", value="cash"), rx.el.option("Cheque", value="cheque"), rx.el.option("Card", value="card"),
                        id="pay-method", value=s.pay_method, on_change=s.set_pay_method, height="32px",
                    )),
                    _field("Cheque number or card terminal reference (never the card number)", "pay-reference",
                           rx.input(id="pay-reference", value=s.pay_reference, on_change=s.set_pay_reference, width="260px")),
                    rx.button("Record payment", on_click=s.take_payment),
                    align="end", spacing="3", wrap="wrap",
                ),
                rx.button("Download statement (PDF)", on_click=s.download_statement, variant="outline"),
                _corrections(),
                spacing="3", width="100%",
            ),
        ),
        aria_label="Patient account",
    )


def _entry(e) -> rx.Component:
    return rx.table.row(
        *[rx.table.cell(v) for v in (e.date, e.service_date, e.kind, e.party, e.detail, e.amount)],
        rx.table.cell(
            rx.cond(
                e.reversible,
                rx.button("Reverse", on_click=BillingQueueState.ask_reverse(e.id), aria_label=e.reverse_label, variant="soft", size="1"),
                rx.text(rx.cond(e.reversed, "Reversed", "Correction"), size="1", color_scheme="gray"),
            )
        ),
    )


def _reverse_panel() -> rx.Component:
    s = BillingQueueState
    return rx.cond(
        s.reverse_entry_id != 0,
        rx.el.section(
            rx.text(s.reverse_summary, weight="bold"),
            rx.text("A reversal is a new entry of the opposite amount; the original entry stays on the ledger.", size="2"),
            rx.hstack(
                _field("Reason for the reversal", "reverse-reason",
                       rx.input(id="reverse-reason", value=s.reverse_reason, on_change=lambda v: s.set_typed("reverse_reason", v), width="320px")),
                rx.button("Post reversal", on_click=s.reverse, color_scheme="red"),
                rx.button("Cancel", on_click=s.cancel_reverse, variant="soft"),
                align="end", spacing="3", wrap="wrap",
            ),
            aria_label="Reverse an entry", padding="8px", border="1px solid var(--gray-6)", border_radius="6px", width="100%",
        ),
    )


def _corrections() -> rx.Component:
    s = BillingQueueState
    return rx.vstack(
        rx.heading("Write off", size="3"),
        rx.hstack(
            _field("Write-off amount ($)", "wo-amount",
                   rx.input(id="wo-amount", value=s.wo_amount, on_change=lambda v: s.set_typed("wo_amount", v), width="120px", input_mode="decimal")),
            _field("Owed by", "wo-party", rx.el.select(
                rx.foreach(s.account_parties, lambda o: rx.el.option(o.label, value=o.value)),
                id="wo-party", value=s.wo_party, on_change=s.set_wo_party, height="32px",
            )),
            _field("Reason for the write-off", "wo-reason",
                   rx.input(id="wo-reason", value=s.wo_reason, on_change=lambda v: s.set_typed("wo_reason", v), width="280px")),
            rx.button("Write off", on_click=s.write_off),
            align="end", spacing="3", wrap="wrap",
        ),
        rx.heading("Refund the patient's credit", size="3"),
        rx.hstack(
            _field("Refund amount ($)", "rf-amount",
                   rx.input(id="rf-amount", value=s.rf_amount, on_change=lambda v: s.set_typed("rf_amount", v), width="120px", input_mode="decimal")),
            _field("Refund by", "rf-method", rx.el.select(
                rx.el.option("Cash", value="cash"), rx.el.option("Cheque", value="cheque"), rx.el.option("Card", value="card"),
                id="rf-method", value=s.rf_method, on_change=s.set_rf_method, height="32px",
            )),
            _field("Refund cheque number or card terminal reference", "rf-reference",
                   rx.input(id="rf-reference", value=s.rf_reference, on_change=lambda v: s.set_typed("rf_reference", v), width="240px")),
            _field("Reason for the refund", "rf-reason",
                   rx.input(id="rf-reason", value=s.rf_reason, on_change=lambda v: s.set_typed("rf_reason", v), width="240px")),
            rx.button("Refund", on_click=s.refund),
            align="end", spacing="3", wrap="wrap",
        ),
        spacing="2", width="100%", aria_label="Correct the account", role="group",
    )
