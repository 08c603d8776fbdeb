"""The patient profile (/patients/<id>) and the new-patient page (/patients/new)."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.fields import (
    inline_form,
    labelled_input,
    labelled_select,
    panel,
    section_message,
    table,
    upload_box,
)
from clinic_app.components.layout import frame
from clinic_app.components.registration_form import registration_form
from clinic_app.pages.portal_invite import portal_panel
from clinic_app.pages.portal_profile import desk_change_panel
from clinic_app.state.patient_profile import UPLOAD_271, ProfileCoverage, ProfileState, ProfileWaitlist
from clinic_app.state.registration import RegistrationState

P, C, W = ProfileState, ProfileCoverage, ProfileWaitlist


def _details() -> rx.Component:
    return panel(
        "Details",
        rx.el.dl(
            rx.foreach(P.details, lambda d: rx.fragment(
                rx.el.dt(d.label, style={"fontWeight": "600", "fontSize": "13px", "color": "var(--gray-11)"}),
                rx.el.dd(d.value, style={"margin": "0 0 6px 0"}),
            )),
            style={"display": "grid", "gridTemplateColumns": "max-content 1fr", "columnGap": "12px", "margin": "0"},
        ),
        rx.button("Edit details", on_click=P.edit_details, variant="soft", size="2"),
        registration_form(context="profile", width="100%"),
        panel_id="profile-details",
    )


def _coverage_row(row) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text(row.priority, ": ", row.payer, weight="bold"),
            rx.cond(row.in_effect, rx.badge("In effect today", color_scheme="green", high_contrast=True),
                    rx.badge("Not in effect today", color_scheme="gray", high_contrast=True)),
            align="center",
            wrap="wrap",
        ),
        rx.text("Member ", row.member_id, " · group ", row.group, " · subscriber: ", row.subscriber, size="2"),
        rx.text("Dates: ", row.dates, " · copay on the card: ", row.copay, size="2"),
        rx.text(row.eligibility, size="2", class_name="coverage-eligibility"),
        rx.hstack(
            rx.button("Edit", on_click=C.start_edit(row.id), aria_label="Edit " + row.label, variant="soft", size="1"),
            rx.button("End", on_click=C.start_end(row.id), aria_label="End " + row.label, variant="soft", size="1"),
            rx.button("Eligibility request (270)", on_click=C.request_270(row.id),
                      aria_label="Write the eligibility request (270) for " + row.label, variant="soft", size="1"),
            wrap="wrap",
            margin_top="4px",
        ),
        rx.cond(
            C.ending_id == row.id,
            rx.hstack(
                labelled_input("Last day of cover (mm/dd/yyyy)", "coverage-end-on", C.end_on, lambda v: C.set_text("end_on", v),
                               type_="date", width="160px"),
                rx.button("End coverage", on_click=C.end, color_scheme="red", size="2", high_contrast=True),
                rx.button("Keep it", on_click=C.cancel_end, variant="ghost", size="2"),
                align="end",
                margin_top="6px",
            ),
        ),
        border_top="1px solid var(--gray-5)",
        padding="8px 0",
    )


def _beside(control: rx.Component, state_field: str, field_id: str) -> rx.Component:
    """A coverage form control with what is wrong with it right below (after a refused save)."""
    return rx.vstack(
        control,
        rx.cond(C.problems.contains(state_field),
                rx.text(C.problems[state_field], id=f"{field_id}-problem", size="1", color_scheme="red", max_width="240px")),
        spacing="1",
    )


def _checked_input(label: str, field_id: str, value, on_change, **kw) -> rx.Component:
    # Each control's id is "coverage-<x>" for the state field "cov_<x>".
    return _beside(labelled_input(label, field_id, value, on_change, **kw), "cov_" + field_id.removeprefix("coverage-"), field_id)


def _checked_select(label: str, field_id: str, options, value, on_change, **kw) -> rx.Component:
    return _beside(labelled_select(label, field_id, options, value, on_change, **kw),
                   "cov_" + field_id.removeprefix("coverage-"), field_id)


def _coverage_form() -> rx.Component:
    return rx.cond(
        C.form_open,
        inline_form(
            rx.heading(rx.cond(C.editing_id == 0, "Add coverage", "Edit coverage"), size="3", margin_bottom="6px", as_="h3"),
            rx.hstack(
                _checked_select("Insurer", "coverage-payer", C.payer_options, C.cov_payer, lambda v: C.set_choice("cov_payer", v)),
                _checked_select("Priority", "coverage-priority", C.priorities, C.cov_priority,
                                lambda v: C.set_choice("cov_priority", v)),
                _checked_input("Member id", "coverage-member", C.cov_member, lambda v: C.set_text("cov_member", v), max_length=40),
                _checked_input("Group number", "coverage-group", C.cov_group, lambda v: C.set_text("cov_group", v),
                               width="120px", max_length=40),
                wrap="wrap",
            ),
            rx.hstack(
                _checked_input("Starts (mm/dd/yyyy)", "coverage-from", C.cov_from, lambda v: C.set_text("cov_from", v), type_="date", width="150px"),
                _checked_input("Ends, empty: open (mm/dd/yyyy)", "coverage-to", C.cov_to, lambda v: C.set_text("cov_to", v), type_="date",
                               width="150px"),
                _checked_input("Copay ($)", "coverage-copay", C.cov_copay, lambda v: C.set_text("cov_copay", v), width="90px",
                               max_length=12),
                _checked_select("The subscriber is", "coverage-relationship", C.relationships, C.cov_relationship,
                                lambda v: C.set_choice("cov_relationship", v)),
                wrap="wrap",
            ),
            rx.cond(
                C.cov_relationship != "self",
                rx.hstack(
                    _checked_input("Subscriber first name", "coverage-first", C.cov_first, lambda v: C.set_text("cov_first", v)),
                    _checked_input("Subscriber last name", "coverage-last", C.cov_last, lambda v: C.set_text("cov_last", v)),
                    _checked_input("Subscriber date of birth (mm/dd/yyyy)", "coverage-birth", C.cov_birth, lambda v: C.set_text("cov_birth", v),
                                   type_="date", width="150px"),
                    _checked_select("Subscriber's sex", "coverage-sex", C.sexes, C.cov_sex, lambda v: C.set_choice("cov_sex", v)),
                    _checked_input("Street", "coverage-street", C.cov_street, lambda v: C.set_text("cov_street", v), max_length=55),
                    _checked_input("City", "coverage-city", C.cov_city, lambda v: C.set_text("cov_city", v), width="120px"),
                    _checked_input("State", "coverage-state", C.cov_state, lambda v: C.set_text("cov_state", v), width="60px",
                                   max_length=2),
                    _checked_input("ZIP code", "coverage-zip", C.cov_zip, lambda v: C.set_text("cov_zip", v), width="100px",
                                   max_length=10),
                    wrap="wrap",
                ),
            ),
            submit=rx.button(rx.cond(C.editing_id == 0, "Add this coverage", "Save coverage"), on_click=C.save, size="2"),
            on_cancel=C.close_form,
        ),
    )


def _insurance() -> rx.Component:
    return panel(
        "Insurance",
        section_message(C.message, C.message_is_error),
        rx.cond(C.rows.length() == 0, rx.text("No insurance on file: visits are priced at the self-pay rates.", size="2")),
        rx.foreach(C.rows, _coverage_row),
        rx.hstack(
            rx.button("Add coverage", on_click=C.start_add, size="2"),
            rx.button("Re-price unbilled visits", on_click=C.reprice, variant="outline", size="2"),
            wrap="wrap",
            margin_top="6px",
        ),
        _coverage_form(),
        rx.box(
            rx.text("Payer's answer (271)", weight="medium", size="2"),
            rx.hstack(
                upload_box(
                    UPLOAD_271, "The payer's 271 file",
                    rx.text("Choose or drop the 271 file: ", rx.selected_files(UPLOAD_271).join(", "), size="2"),
                    max_files=1,
                    border="1px dashed var(--gray-8)",
                    padding="8px",
                ),
                rx.button("Read the 271 answer", on_click=C.upload_271(rx.upload_files(upload_id=UPLOAD_271)), size="2",
                          variant="soft"),
                align="center",
                wrap="wrap",
            ),
            margin_top="10px",
        ),
        panel_id="profile-insurance",
    )


def _visit_rows(rows) -> rx.Component:
    return rx.foreach(rows, lambda v: rx.table.row(
        rx.table.cell(v.when, white_space="nowrap"), rx.table.cell(v.provider), rx.table.cell(v.kind), rx.table.cell(v.where),
        rx.table.cell(v.status),
    ))


def _visits() -> rx.Component:
    headers = ("When", "With", "Visit", "Where", "Status")
    return panel(
        "Visits",
        rx.text("Upcoming", weight="medium", size="2"),
        rx.cond(P.upcoming.length() == 0, rx.text("No upcoming visit.", size="2"),
                table(headers, _visit_rows(P.upcoming), label="Upcoming visits")),
        rx.text("Past (last 20)", weight="medium", size="2", margin_top="8px"),
        rx.cond(P.past.length() == 0, rx.text("No past visit.", size="2"),
                table(headers, _visit_rows(P.past), label="Past visits")),
        panel_id="profile-visits",
    )


def _account() -> rx.Component:
    return panel(
        "Balance and payments",
        rx.hstack(
            rx.text("Patient owes ", rx.text.strong(P.patient_owes)),
            rx.text("Insurance owes ", rx.text.strong(P.insurance_owes)),
            spacing="5",
            wrap="wrap",
        ),
        rx.cond(
            P.money.length() == 0,
            rx.text("No charges or payments yet.", size="2"),
            table(("Date", "What", "Amount"), rx.foreach(P.money, lambda m: rx.table.row(
                rx.table.cell(m.when, white_space="nowrap"), rx.table.cell(m.what), rx.table.cell(m.amount, text_align="right"),
            )), label="Account entries, newest first"),
        ),
        panel_id="profile-account",
    )


def _documents() -> rx.Component:
    return panel(
        "Documents",
        rx.hstack(rx.button("Account statement (PDF)", on_click=P.download_statement, variant="soft", size="2"), wrap="wrap"),
        rx.flex(
            rx.foreach(P.receipts, lambda r: rx.button(
                "Receipt for the visit of ", r.when, " (PDF)", on_click=P.download_receipt(r.id), variant="ghost", size="2",
            )),
            wrap="wrap",
            gap="2",
        ),
        rx.text("Consents on file", weight="medium", size="2", margin_top="6px"),
        rx.cond(P.consents.length() == 0, rx.text("None recorded.", size="2")),
        rx.foreach(P.consents, lambda c: rx.text(c.label, ": given ", c.value, size="2")),
        panel_id="profile-documents",
    )


def waitlist_entry(row, state) -> rx.Component:
    """One waitlist entry: preferences, waited, and the offer flow (freed slots, book, remove)."""
    return rx.box(
        rx.hstack(
            rx.text(row.type_name, " at ", row.location, weight="bold", size="2"),
            rx.badge(row.status, color_scheme=rx.cond(row.status == "Waiting", "amber", "gray"), high_contrast=True),
            align="center",
        ),
        rx.text("Days ", row.days, " · times ", row.times, " · ", row.provider, " · waiting ", row.waited, size="2"),
        rx.cond(row.note != "", rx.text("Note: ", row.note, size="2")),
        rx.cond(
            row.status == "Waiting",
            rx.hstack(
                rx.button("Find a freed slot", on_click=state.find_slots(row.entry_id), aria_label="Find a freed slot for " + row.label,
                          variant="soft", size="1"),
                rx.button("Remove", on_click=state.remove(row.entry_id), aria_label="Remove from the waitlist: " + row.label,
                          variant="ghost", size="1", color_scheme="red"),
                margin_top="4px",
            ),
        ),
        freed_slots(row, state),
        border_top="1px solid var(--gray-5)",
        padding="6px 0",
    )


def freed_slots(row, state) -> rx.Component:
    """The freed slots found for an entry, each booked in one press."""
    return rx.cond(
        state.slots_loaded & (state.slots_for == row.entry_id),
        rx.box(
            rx.cond(state.slots.length() == 0,
                    rx.text("No freed slot fits yet (cancelled or no-show visits in these days).", size="2")),
            rx.foreach(state.slots, lambda s: rx.hstack(
                rx.button("Book ", s.when, " with ", s.provider, on_click=state.book_slot(s.appointment_id), size="1"),
                rx.text(s.why, size="1", color="var(--gray-11)"),
                align="center",
                wrap="wrap",
            )),
            rx.button("Close", on_click=state.close_slots, variant="ghost", size="1"),
            padding_left="12px",
        ),
    )


def _waitlist() -> rx.Component:
    return panel(
        "Waitlist",
        section_message(W.message, W.message_is_error),
        rx.cond(W.entries.length() == 0, rx.text("Not on the waitlist.", size="2")),
        rx.foreach(W.entries, lambda e: waitlist_entry(e, W)),
        rx.button("Add to the waitlist", on_click=W.start_add, size="2", variant="soft", margin_top="6px"),
        rx.cond(
            W.form_open,
            inline_form(
                rx.hstack(
                    labelled_select("Location", "wait-location", W.locations, W.wait_location, lambda v: W.set_choice("wait_location", v)),
                    labelled_select("Visit", "wait-type", W.types, W.wait_type, lambda v: W.set_choice("wait_type", v)),
                    labelled_select("Provider", "wait-provider", W.providers, W.wait_provider, lambda v: W.set_choice("wait_provider", v)),
                    wrap="wrap",
                ),
                rx.hstack(
                    labelled_input("First day", "wait-first", W.wait_first, lambda v: W.set_text("wait_first", v), type_="date", width="150px"),
                    labelled_input("Last day", "wait-last", W.wait_last, lambda v: W.set_text("wait_last", v), type_="date", width="150px"),
                    labelled_input("From (e.g. 08:00)", "wait-from", W.wait_from, lambda v: W.set_text("wait_from", v), width="110px",
                                   max_length=5),
                    labelled_input("Until (e.g. 12:00)", "wait-until", W.wait_until, lambda v: W.set_text("wait_until", v),
                                   width="110px", max_length=5),
                    wrap="wrap",
                ),
                labelled_input("Note", "wait-note", W.wait_note, lambda v: W.set_text("wait_note", v), width="100%", max_length=200),
                submit=rx.button("Add to the waitlist", on_click=W.add, size="2"),
                on_cancel=W.close_form,
            ),
        ),
        panel_id="profile-waitlist",
    )


def profile_page() -> rx.Component:
    return frame(
        rx.cond(P.name != "", P.name, "Patient profile"),
        rx.cond(P.name != "", rx.text(P.summary, size="3", color="var(--gray-11)", margin_top="-8px", margin_bottom="8px")),
        rx.cond(P.name != "", rx.link("Message a colleague about this patient", href="/messages?patient=" + P.patient_id.to_string(),
                                      size="2", display="inline-block", padding="10px 0", margin_bottom="4px")),
        section_message(P.message, P.message_is_error),
        rx.cond(
            P.name != "",
            rx.grid(
                rx.vstack(_details(), _insurance(), spacing="3", width="100%"),
                rx.vstack(_visits(), _account(), portal_panel(), desk_change_panel(), _waitlist(), _documents(), spacing="3", width="100%"),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="3",
                width="100%",
            ),
        ),
    )


def new_patient_page() -> rx.Component:
    return frame(
        "New patient",
        rx.box(registration_form(context="page", width="100%"), max_width="1200px"),
        rx.cond(~RegistrationState.panel_open, rx.text("Loading the form...")),
    )
