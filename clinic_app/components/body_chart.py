"""The body chart: a front and a back figure whose regions are tapped to mark them.

Each region is an SVG shape with role=button and its name, so it can be tapped on a
tablet, found by screen readers, and reached with the keyboard (Tab, then Enter).
Marked regions are coloured by intensity; the marks are also listed in words.
"""

from __future__ import annotations

import reflex as rx

from clinic_app.components.chart_codes import section_message
from clinic_app.components.chart_note import EDITABLE
from clinic_app.services.charting.body_chart import REGIONS
from clinic_app.state.chart_body import BodyChartSection as B

# (key, shape, x, y, w, h) in a 200 x 390 viewBox; "e" is an ellipse, "r" a rectangle.
# Front: the patient faces us, so their right is on our left. Back: their right is on our right.
# Every region is at least 26 units in each direction (45.5 px at the figure's 1.75 scale), so
# each is a 44 px touch target on a tablet; regions touch but never overlap, so a tap always
# lands on the region drawn there (tests/e2e/test_chart_tablet.py measures them).
_FRONT = [
    ("head_f", "e", 74, 2, 52, 50), ("neck_f", "r", 87, 52, 26, 26),
    ("r_shoulder_f", "r", 40, 78, 32, 26), ("l_shoulder_f", "r", 128, 78, 32, 26),
    ("chest_f", "r", 72, 78, 56, 52), ("abdomen_f", "r", 72, 130, 56, 50),
    ("r_arm_f", "r", 40, 104, 28, 56), ("l_arm_f", "r", 132, 104, 28, 56),
    ("r_forearm_f", "r", 34, 160, 28, 66), ("l_forearm_f", "r", 138, 160, 28, 66),
    ("r_hip_f", "r", 72, 180, 28, 26), ("l_hip_f", "r", 100, 180, 28, 26),
    ("r_thigh_f", "r", 72, 206, 28, 62), ("l_thigh_f", "r", 100, 206, 28, 62),
    ("r_knee_f", "r", 72, 268, 28, 28), ("l_knee_f", "r", 100, 268, 28, 28),
    ("r_leg_f", "r", 72, 296, 28, 62), ("l_leg_f", "r", 100, 296, 28, 62),
    ("r_foot_f", "r", 68, 358, 32, 28), ("l_foot_f", "r", 100, 358, 32, 28),
]
_BACK = [
    ("head_b", "e", 74, 2, 52, 50), ("neck_b", "r", 87, 52, 26, 26),
    ("l_scapula_b", "r", 40, 78, 32, 40), ("r_scapula_b", "r", 128, 78, 32, 40),
    ("upper_back_b", "r", 72, 78, 56, 56), ("lower_back_b", "r", 72, 134, 56, 46),
    ("l_arm_b", "r", 40, 118, 28, 42), ("r_arm_b", "r", 132, 118, 28, 42),
    ("l_forearm_b", "r", 34, 160, 28, 66), ("r_forearm_b", "r", 138, 160, 28, 66),
    ("l_buttock_b", "r", 72, 180, 28, 32), ("r_buttock_b", "r", 100, 180, 28, 32),
    ("l_thigh_b", "r", 72, 212, 28, 56), ("r_thigh_b", "r", 100, 212, 28, 56),
    ("l_knee_b", "r", 72, 268, 28, 28), ("r_knee_b", "r", 100, 268, 28, 28),
    ("l_calf_b", "r", 72, 296, 28, 62), ("r_calf_b", "r", 100, 296, 28, 62),
    ("l_heel_b", "r", 68, 358, 32, 28), ("r_heel_b", "r", 100, 358, 32, 28),
]


def _region(key: str, shape: str, x: int, y: int, w: int, h: int) -> rx.Component:
    names = REGIONS
    common = {
        "fill": B.region_fill[key],
        "stroke": rx.cond(B.selected_region == key, "#1d4ed8", "#6b7280"),
        "stroke_width": rx.cond(B.selected_region == key, "3", "1"),
        "role": "button",
        "tab_index": 0,
        "aria_label": names[key],
        "on_click": B.select_region(key),
        "style": {"cursor": "pointer"},
    }
    if shape == "e":
        return rx.el.ellipse(rx.el.title(names[key]), cx=x + w // 2, cy=y + h // 2, rx=w // 2, ry=h // 2, **common)
    return rx.el.rect(rx.el.title(names[key]), x=x, y=y, width=w, height=h, rx=6, **common)


def _figure(title: str, regions) -> rx.Component:
    return rx.vstack(
        rx.text(title, weight="bold"),
        rx.el.svg(
            *[_region(*r) for r in regions],
            view_box="0 0 200 390",
            # 1.75x the view box: the smallest region (26 units) is 45.5 px on a tablet;
            # the figures wrap under each other on narrow screens.
            width="350",
            height="683",
            role="group",
            aria_label=f"Body chart, {title.lower()}",
        ),
        align="center",
        spacing="1",
    )


def body_chart() -> rx.Component:
    """Both figures, the tapped region's form, and the marks in words."""
    unsigned = EDITABLE
    return rx.vstack(
        rx.hstack(_figure("Front", _FRONT), _figure("Back", _BACK), spacing="6", wrap="wrap"),
        rx.cond(
            unsigned & (B.selected_region != ""),
            rx.vstack(
                rx.text(B.selected_region_label, weight="bold"),
                rx.hstack(
                    rx.el.label("Symptom", html_for="mark-symptom"),
                    rx.select.root(
                        rx.select.trigger(id="mark-symptom", aria_label="Symptom", style={"minHeight": "44px"}),
                        rx.select.content(rx.foreach(B.symptoms, lambda s: rx.select.item(s, value=s))),
                        value=B.mark_symptom,
                        on_change=B.set_mark_symptom,
                        size="3",
                    ),
                    align="center",
                ),
                rx.hstack(
                    rx.foreach(
                        B.intensities,
                        lambda n: rx.button(
                            n, on_click=B.set_mark_intensity(n),
                            variant=rx.cond(B.mark_intensity == n, "solid", "outline"),
                            aria_label="Intensity " + n, aria_pressed=rx.cond(B.mark_intensity == n, "true", "false"),
                            size="3", style={"minWidth": "44px", "minHeight": "44px", "padding": "0"},
                        ),
                    ),
                    spacing="1", wrap="wrap", role="group", aria_label="Intensity (0-10)",
                ),
                rx.hstack(
                    rx.button("Mark region", on_click=B.mark_region, size="3", style={"minHeight": "44px"}),
                    rx.button("Clear mark", on_click=B.clear_region, variant="soft", size="3",
                              style={"minHeight": "44px"}),
                    wrap="wrap",
                ),
                section_message(B),
                spacing="2",
                width="100%",
            ),
        ),
        rx.cond(B.body_marks.length() == 0, rx.text("No regions marked.", size="2")),
        rx.el.ul(rx.foreach(B.body_marks, lambda m: rx.el.li(m)), aria_label="Marked regions"),
        rx.cond(
            B.previous_marks_label != "",
            rx.vstack(
                rx.text(B.previous_marks_label, weight="medium"),
                rx.el.ul(rx.foreach(B.previous_marks, lambda m: rx.el.li(m)), aria_label="Marked at the last visit"),
                spacing="1",
            ),
        ),
        width="100%",
        spacing="2",
    )
