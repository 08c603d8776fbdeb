"""Record: problem list (ICD-10-CM search), allergies and medications with their alerts,
and attachments viewed in the page."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.chart_codes import labelled_input, section_message
from clinic_app.components.chart_note import TOUCH
from clinic_app.state.chart import ChartState
from clinic_app.state.chart_record import RecordSection as R


def row_with_action(r, handler) -> rx.Component:
    """A line of the record (``r.text``) with the button that acts on it (``r.action_label``, if any)."""
    return rx.hstack(
        rx.text(r.text),
        rx.cond(r.action_label != "", rx.button(r.action_label, on_click=handler(r.id), variant="soft", color_scheme="gray",
                                                size="3", style=TOUCH)),
        align="center",
        wrap="wrap",
    )


def _viewer() -> rx.Component:
    """The attachment being viewed: an image inline, a PDF embedded, with a download either way."""
    return rx.cond(
        R.viewer_src != "",
        rx.card(
            rx.vstack(
                rx.heading("Viewing " + R.viewer_name, size="3"),
                rx.cond(
                    R.viewer_is_pdf,
                    rx.el.object(
                        rx.text("This device cannot show the PDF here; use Download."),
                        data=R.viewer_src, type="application/pdf", title=R.viewer_name,
                        width="100%", height="600", id="attachment-viewer",
                    ),
                    rx.image(src=R.viewer_src, alt=R.viewer_name, max_width="100%", max_height="600px",
                             id="attachment-viewer"),
                ),
                rx.hstack(
                    rx.button("Download " + R.viewer_name, on_click=R.open_attachment(R.viewer_id),
                              variant="soft", size="3", style=TOUCH),
                    rx.button("Close viewer", on_click=R.close_viewer, variant="soft", color_scheme="gray", size="3",
                              style=TOUCH),
                    wrap="wrap",
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
        ),
    )


def _alert() -> rx.Component:
    return rx.cond(
        R.pending_alert != "",
        rx.callout(
            rx.vstack(
                rx.text(R.pending_alert, weight="bold"),
                rx.hstack(
                    rx.button("Record anyway", on_click=R.record_anyway, color_scheme="red", size="3", style=TOUCH),
                    rx.button("Do not record", on_click=R.cancel_pending, variant="soft", size="3", style=TOUCH),
                    wrap="wrap",
                ),
                spacing="2",
            ),
            color_scheme="red",
            high_contrast=True,
            role="alert",
            aria_label="Safety alert",
            width="100%",
        ),
    )


def _intake_line(line) -> rx.Component:
    return rx.match(
        line.kind,
        ("form", rx.text(line.text, weight="bold", margin_top="6px")),
        ("consent", rx.hstack(
            rx.text(line.text),
            rx.button(line.action_label, on_click=R.open_consent(line.id), variant="soft", size="3", style=TOUCH),
            align="center", wrap="wrap",
        )),
        rx.text(line.text, size="2", padding_left="12px"),
    )


def _intake() -> rx.Component:
    """The patient's intake answers and signed consents (services/portal/intake.py)."""
    return rx.vstack(
        rx.heading("Intake", size="4"),
        rx.cond(R.intake_status != "", rx.text(R.intake_status, weight="medium", id="chart-intake-status")),
        rx.cond(R.intake_lines.length() == 0, rx.text("No intake forms answered.", size="2")),
        rx.foreach(R.intake_lines, _intake_line),
        section_message(R, R.message_at == "intake"),
        spacing="1",
        width="100%",
    )


def record_section() -> rx.Component:
    return rx.cond(
        ChartState.own_note,
        rx.vstack(
            _intake(),
            rx.heading("Allergies", size="4"),
            rx.cond(R.pending_alert == "", section_message(R, R.message_at == "allergies")),
            rx.text(ChartState.allergy_words, weight="medium"),
            rx.hstack(
                labelled_input("Allergy to", "allergy-substance", R.new_substance, R.set_new_substance, max_length=80),
                labelled_input("Reaction", "allergy-reaction", R.new_reaction, R.set_new_reaction, max_length=120),
                rx.button("Add allergy", on_click=R.add_allergy(False), size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
            rx.heading("Medications", size="4"),
            rx.cond(R.pending_alert == "", section_message(R, R.message_at == "medications")),
            rx.cond(R.medications.length() == 0, rx.text("No medications recorded.", size="2")),
            rx.foreach(R.medications, lambda r: row_with_action(r, R.stop_medication)),
            rx.hstack(
                labelled_input("Medication", "med-name", R.new_med_name, R.set_new_med_name, max_length=80),
                rx.vstack(
                    rx.el.label("Class", html_for="med-class"),
                    rx.select.root(
                        rx.select.trigger(id="med-class", aria_label="Class", style={"minHeight": "44px"}),
                        rx.select.content(rx.foreach(R.drug_classes, lambda c: rx.select.item(c, value=c))),
                        value=R.new_med_class,
                        on_change=R.set_new_med_class,
                        size="3",
                    ),
                    spacing="1",
                ),
                labelled_input("Dose", "med-dose", R.new_med_dose, R.set_new_med_dose, max_length=80),
                rx.button("Add medication", on_click=R.add_medication(False), size="3", style=TOUCH),
                align="end",
                wrap="wrap",
            ),
            _alert(),
            rx.heading("Problem list", size="4"),
            section_message(R, R.message_at == "problems"),
            rx.cond(R.problems.length() == 0, rx.text("No active problems.", size="2")),
            rx.foreach(R.problems, lambda r: row_with_action(r, R.resolve_problem)),
            labelled_input("Search ICD-10-CM (words or code)", "icd-search", R.icd_query, R.search_icd,
                   debounce_timeout=300, max_length=60, width="100%"),
            rx.foreach(
                R.icd_hits,
                lambda h: rx.button(
                    rx.text(rx.el.strong(h.code), " ", h.description, size="2"),
                    on_click=R.add_problem(h.code), aria_label=h.add_label, variant="surface", size="3",
                    white_space="normal", height="auto",
                    style={"minHeight": "44px", "justifyContent": "flex-start", "textAlign": "left", "width": "100%"},
                ),
            ),
            rx.heading("Attachments", size="4"),
            rx.cond(R.attachments.length() == 0, rx.text("No attachments.", size="2")),
            rx.foreach(R.attachments, lambda r: row_with_action(r, R.view_attachment)),
            _viewer(),
            # The drop zone inside a label: the label names the file input and a tap on it
            # opens the file chooser (once: the drop zone's own click is off).
            rx.el.label(
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
                    no_click=True,
                    border="1px dashed var(--gray-7)",
                    padding="16px",
                    width="100%",
                    style={"minHeight": "64px", "cursor": "pointer"},
                ),
                style={"display": "block", "width": "100%"},
            ),
            rx.button("Upload attachment", on_click=R.upload_attachment(rx.upload_files(upload_id="attachment-upload")),
                      size="3", style=TOUCH),
            section_message(R, R.message_at == "attachments"),
            width="100%",
            spacing="2",
        ),
        rx.text("The record of a supervisee's patient is not shown for co-signature."),
    )
