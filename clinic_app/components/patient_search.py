"""The header's patient search: one box, results one click from each profile."""

from __future__ import annotations

import reflex as rx

from clinic_app import routes
from clinic_app.state.patient_search import PatientSearchState as S

BOX_ID = "patient-search-box"
# The list shows while the box or a result has focus (CSS, no round trip): a click on a
# result keeps focus inside, Escape or a click elsewhere closes it.
# Escape leaves the box (the list closes) without a round trip per key.
# Escape closes the results (a file: the Content-Security-Policy runs no inline script a page
# adds after it loads).
ESCAPE_SCRIPT = "/clinic-search.js"
_CLOSED_UNLESS_FOCUSED = {"&:not(:focus-within) .patient-search-results": {"display": "none"}}


def _hit(hit) -> rx.Component:
    return rx.el.li(
        rx.link(
            rx.vstack(
                rx.text(hit.name, weight="bold", size="2"),
                rx.text(hit.details, size="1", color="var(--gray-11)"),
                spacing="0",
            ),
            href=hit.href,
            aria_label=hit.label,
            on_click=[rx.set_value(BOX_ID, ""), S.clear],  # the box empties (the page may stay mounted)
            underline="none",
            display="block",
            padding="8px 10px",
            min_height="44px",
            _hover={"color": "var(--gray-12)", "background": "var(--accent-3)"},
            style={"color": "var(--gray-12)", "&:focus": {"background": "var(--accent-3)"}},
        ),
        list_style="none",
    )


def _results() -> rx.Component:
    return rx.box(
        rx.cond(
            S.error != "",
            rx.text(S.error, color="var(--red-11)", size="2", padding="8px 10px"),
            rx.cond(
                S.hits.length() > 0,
                rx.el.ul(rx.foreach(S.hits, _hit), aria_label="Patients found", margin="0", padding="0"),
                rx.hstack(
                    rx.text("No patient matches “", S.query, "”.", size="2"),
                    rx.link("Register new", href=routes.PATIENT_NEW, weight="bold", size="2", _hover={"color": "var(--accent-12)"},
                            padding="10px 4px"),
                    align="center",
                    justify="between",
                    padding="2px 10px",
                ),
            ),
        ),
        class_name="patient-search-results",
        id="patient-search-results",
        data_for=S.query,
        role="region",
        aria_label="Patient search results",
        aria_live="polite",
        display=rx.cond(S.answered, "block", "none"),
        position="absolute",
        top="100%",
        left="0",
        width="380px",
        max_height="70vh",
        overflow_y="auto",
        z_index="50",
        background="var(--color-panel-solid)",
        border="1px solid var(--gray-7)",
        border_radius="6px",
        box_shadow="0 6px 20px rgba(0, 0, 0, 0.18)",
        margin_top="4px",
    )


def patient_search() -> rx.Component:
    """The search box (name, date of birth, phone digits or MRN) and its results."""
    return rx.box(
        rx.el.label("Find patient", html_for=BOX_ID, style={"marginRight": "6px", "fontSize": "14px", "whiteSpace": "nowrap"}),
        rx.input(
            id=BOX_ID,
            type="search",
            placeholder="Name, birth date, phone or MRN",
            max_length=80,
            auto_complete="off",
            on_change=S.search,
            width="230px",
            size="2",
        ),
        _results(),
        rx.script(src=ESCAPE_SCRIPT),
        class_name="patient-search",
        position="relative",
        display="flex",
        align_items="center",
        style=_CLOSED_UNLESS_FOCUSED,
    )
