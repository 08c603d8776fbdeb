"""The biller's day: the live queue, claims to send, the denial worklist, AR aging."""

import reflex as rx

from clinic_app.components.fields import upload_box
from clinic_app.components.layout import frame, message_box
from clinic_app.components.status_badge import status_badge
from clinic_app.state.billing import (
    FILES_UPLOAD,
    BatchSection,
    BillingQueueState,
    FilesSection,
    ReopenSection,
    ReportsSection,
)


def _row(row) -> rx.Component:
    insured = row.coverage != ""
    bill = rx.button(row.bill_text, on_click=BillingQueueState.ask_bill(row.id), aria_label=row.bill_label,
                     variant=rx.cond(insured, "soft", "solid"))
    return rx.table.row(
        rx.table.cell(row.service_date, " ", row.time_label),
        rx.table.cell(
            row.patient_name,
            rx.text(row.mrn, size="1", color_scheme="gray"),
            rx.text(rx.cond(insured, "Insured: " + row.coverage, "Self-pay: no coverage on the date of service"), size="1"),
        ),
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
                # A covered visit is claimed; billing it to the patient asks why (in the dialog).
                rx.cond(insured, rx.button("Create claim", on_click=BillingQueueState.create_claim(row.id), aria_label=row.claim_label)),
                bill,
                spacing="2",
                wrap="wrap",
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
        _bill_dialog(),
        _billed_section(),
        _claims_section(),
        _files_section(),
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
        _batches(),
        aria_label="Claims",
    )


def _batch_row(b) -> rx.Component:
    s = BatchSection
    ready = b.status == "ready"
    return rx.table.row(
        rx.table.cell(b.batch_id),
        rx.table.cell(b.created),
        rx.table.cell(b.claims),
        rx.table.cell(b.payers),
        rx.table.cell("$", b.total),
        rx.table.cell(rx.cond(ready, rx.badge(b.status_words, color_scheme="amber", variant="soft", size="2"),
                              rx.text(b.status_words, size="2"))),
        rx.table.cell(rx.hstack(
            rx.button("Download zip", on_click=s.download_batch(b.batch_id), aria_label=b.download_label, variant="outline"),
            rx.cond(ready, rx.button("Mark sent", on_click=s.mark_batch_sent(b.batch_id), aria_label=b.sent_label)),
            rx.cond(ready & (BillingQueueState.outbox != ""),
                    rx.button("Send to outbox", on_click=s.send_batch_to_outbox(b.batch_id), aria_label=b.outbox_label,
                              variant="soft")),
            spacing="2", wrap="wrap",
        )),
    )


def _batches() -> rx.Component:
    s = BatchSection
    q = BillingQueueState
    return rx.box(
        rx.hstack(
            rx.button("Create batch of ", q.ready_to_send, " claims", on_click=s.create_batch, loading=s.writing,
                      disabled=(q.ready_to_send == 0) | s.writing),
            rx.text(
                rx.cond(q.outbox != "", "Batches can be sent straight to the clearinghouse outbox (" + q.outbox + ").",
                        "A batch is one zip with one 837P file per payer; its claims become Submitted when you mark it sent."),
                size="2", color_scheme="gray",
            ),
            align="center", spacing="3", wrap="wrap",
        ),
        rx.box(message_box(s.message, s.message_is_error), aria_live="polite", margin_top="8px"),
        rx.cond(
            q.batches.length() > 0,
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                    "Batch", "Written", "Claims", "Payers", "Total", "Status", "Action")])),
                rx.table.body(rx.foreach(q.batches, _batch_row)),
                width="100%", aria_label="Claim batches",
            ),
        ),
        margin_top="4px",
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
            rx.button("Download CSV", on_click=BillingQueueState.download_aging, variant="outline", aria_label="Download CSV of AR aging by payer"),
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


def _report_heading(title, download=None, what: str = "") -> rx.Component:
    parts = [rx.heading(title, size="4")]
    if download is not None:
        parts.append(rx.button("Download CSV", on_click=download, variant="outline", aria_label=f"Download CSV of {what}"))
    return rx.hstack(*parts, align="center", spacing="3", margin_top="24px", margin_bottom="8px")


def _range_field(label: str, field_id: str, value, on_change, problem) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=field_id),
        rx.input(id=field_id, type="date", value=value, on_change=on_change, width="170px",
                 aria_invalid=rx.cond(problem != "", "true", "false"), aria_describedby=field_id + "-problem"),
        rx.cond(problem != "", rx.text(problem, id=field_id + "-problem", size="1", color="var(--red-11)", role="alert",
                                       max_width="260px")),
        spacing="1",
    )


def _range_picker() -> rx.Component:
    r = ReportsSection
    return rx.box(
        rx.heading("Report range", size="3", margin_top="24px", margin_bottom="4px"),
        rx.hstack(
            _range_field("First day", "report-from", r.report_from, r.set_report_from, r.from_problem),
            _range_field("Last day", "report-to", r.report_to, r.set_report_to, r.to_problem),
            rx.vstack(
                rx.el.label("Group payments by", html_for="report-grain"),
                rx.el.select(
                    rx.el.option("Day", value="day"), rx.el.option("Week (from Monday)", value="week"),
                    rx.el.option("Month", value="month"),
                    id="report-grain", value=r.report_grain, on_change=r.set_report_grain, height="32px",
                ),
                spacing="1",
            ),
            rx.button("Show the range", on_click=r.show_range),
            rx.cond(r.range_active, rx.button("Back to the last 30 days and 12 months", on_click=r.reset_range, variant="soft")),
            align="end", spacing="3", wrap="wrap",
        ),
        rx.box(message_box(r.message, r.message_is_error), aria_live="polite", margin_top="4px"),
    )


def _reports_section() -> rx.Component:
    s = BillingQueueState
    r = ReportsSection
    reason_cols = ("Reason (group-CARC)", "What it means", "Claims", "Share of denials")
    period_cols = ("Period", "From insurance", "From patients", "Total")
    return rx.el.section(
        _report_heading("Patient balances by age (date of service)", s.download_patient_aging, "patient balances by age"),
        _table(("Patient", "0-30 days", "31-60", "61-90", "90+", "Unapplied", "Total"), s.aging_patients,
               lambda a: (a.name, a.b0_30, a.b31_60, a.b61_90, a.b90, a.unapplied, a.total)),
        _range_picker(),
        rx.cond(
            r.range_active,
            rx.box(
                _report_heading("Denials by reason, " + r.range_words, r.download_range_denials, "denials by reason in the range"),
                rx.cond(r.range_reasons.length() == 0, rx.text("No denials in this range.", size="2")),
                _table(reason_cols, r.range_reasons, lambda x: (x.reason, x.words, x.claims, x.share)),
                _report_heading("Payments by " + r.report_grain + ", " + r.range_words, r.download_range_payments,
                                "payments in the range"),
                rx.cond(r.range_periods.length() == 0, rx.text("No payments in this range.", size="2")),
                _table(period_cols, r.range_periods, lambda x: (x.period, x.insurance, x.patient, x.total)),
            ),
            rx.box(
                _report_heading("Denials by reason, last 30 days"),
                rx.cond(s.denial_reasons.length() == 0, rx.text("No denials in the last 30 days.", size="2")),
                _table(reason_cols, s.denial_reasons, lambda x: (x.reason, x.words, x.claims, x.share)),
                _report_heading("Payments by month, last 12 months", s.download_payments, "payments by month"),
                _table(("Month", "From insurance", "From patients", "Total"), s.payment_periods,
                       lambda x: (x.period, x.insurance, x.patient, x.total)),
            ),
        ),
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
                rx.button("Post reversal", on_click=s.reverse, color_scheme="red", high_contrast=True),
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


def _reason_dialog(*, title, words, label, field_id: str, value, on_change, placeholder, problem, keep: str, on_keep,
                   confirm, on_confirm, is_open, on_open_change) -> rx.Component:
    """A dialog that says what an action will do, asks why (the refusal shows beside the reason) and confirms."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(words, size="2"),
            rx.vstack(
                rx.el.label(label, html_for=field_id),
                rx.input(id=field_id, value=value, on_change=on_change, width="100%", placeholder=placeholder),
                rx.cond(problem != "", rx.callout(problem, color_scheme="red", role="alert", size="1")),
                spacing="1", margin_top="12px", width="100%",
            ),
            rx.flex(
                rx.button(keep, on_click=on_keep, variant="soft", color_scheme="gray"),
                rx.button(confirm, on_click=on_confirm, color_scheme="red", high_contrast=True),
                gap="3", margin_top="16px", justify="end", wrap="wrap",
            ),
            max_width="480px",
        ),
        open=is_open,
        on_open_change=on_open_change,
    )


def _bill_dialog() -> rx.Component:
    s = BillingQueueState
    insured = s.bill_coverage != ""
    return _reason_dialog(
        title=s.bill_title,
        words=rx.cond(
            insured,
            s.bill_coverage + " covers this visit on its date of service: it is normally claimed. "
            "Billing the patient puts the whole charge on the patient's account instead; say why.",
            "The patient has no coverage on the date of service: the charge goes on the patient's account.",
        ),
        label=rx.cond(insured, "Why the patient pays (required)", "Note (optional)"), field_id="bill-reason",
        value=s.bill_reason, on_change=lambda v: s.set_typed("bill_reason", v),
        placeholder=rx.cond(insured, "e.g. the patient asked not to use her insurance", ""), problem=s.bill_problem,
        keep="Keep in the queue", on_keep=s.close_bill, confirm=s.bill_button, on_confirm=s.confirm_bill,
        is_open=s.bill_id != 0, on_open_change=s.bill_open_change,
    )


def _reopen_dialog() -> rx.Component:
    s = ReopenSection
    return _reason_dialog(
        title=s.reopen_title, words=s.reopen_words, label="Why the visit is reopened (required)", field_id="reopen-reason",
        value=s.reopen_reason, on_change=s.set_reopen_reason, placeholder="e.g. insurance card found after billing",
        problem=s.reopen_problem, keep="Keep it billed", on_keep=s.close_reopen, confirm="Reverse the charge and reopen",
        on_confirm=s.confirm_reopen, is_open=s.reopen_id != 0, on_open_change=s.reopen_open_change,
    )


def _billed_section() -> rx.Component:
    s = ReopenSection
    headers = ("Date of service", "Patient", "Billed to the patient", "Coverage on that date", "Action")
    return rx.el.section(
        rx.heading("Billed to patients (self-pay)", size="4", margin_top="24px", margin_bottom="8px"),
        message_box(s.message, s.message_is_error),
        rx.cond(
            s.billed.length() == 0,
            rx.text("No visits of this location are billed to the patient.", color_scheme="gray", size="2"),
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
                rx.table.body(rx.foreach(s.billed, lambda r: rx.table.row(
                    rx.table.cell(r.service_date),
                    rx.table.cell(r.patient_name, rx.text(r.mrn, size="1", color_scheme="gray")),
                    rx.table.cell("$", r.billed),
                    rx.table.cell(rx.cond(r.coverage != "", r.coverage, "none")),
                    rx.table.cell(rx.button("Reopen for billing", on_click=s.ask_reopen(r.id), aria_label=r.reopen_label,
                                            variant="soft")),
                ))),
                width="100%",
            ),
        ),
        _reopen_dialog(),
        aria_label="Billed to patients",
    )


def _files_section() -> rx.Component:
    s = FilesSection
    return rx.el.section(
        rx.heading("Files from payers and the clearinghouse", size="4", margin_top="24px", margin_bottom="4px"),
        rx.text("Remittances (835) post payments and denials; acknowledgements (999, 277CA) accept or reject claims; "
                "eligibility answers (271) update coverages. Each file is read whole or not at all.", size="2"),
        rx.hstack(
            upload_box(
                FILES_UPLOAD, "835, 999, 277CA or 271 files",
                rx.text("Choose or drop 835, 999, 277CA or 271 files: ", rx.selected_files(FILES_UPLOAD).join(", "), size="2"),
                max_files=10, border="1px dashed var(--gray-8)", padding="10px", min_width="420px",
            ),
            rx.button("Read the files", on_click=s.read_files(rx.upload_files(upload_id=FILES_UPLOAD)), loading=s.reading,
                      disabled=s.reading),
            align="center", spacing="3", wrap="wrap", margin_top="8px",
        ),
        rx.box(
            message_box(s.message, s.message_is_error),
            rx.el.ul(
                rx.foreach(s.results, lambda r: rx.el.li(
                    rx.text(rx.cond(r.ok, "Read: ", "Refused: "), weight="bold", as_="span",
                            color=rx.cond(r.ok, "var(--green-11)", "var(--red-11)")),
                    r.words,
                )),
                aria_label="What the files did", padding_left="20px",
            ),
            aria_live="polite", margin_top="8px",
        ),
        aria_label="Files from payers",
    )
