"""The status badge: the status in words, with a colour as a second cue."""

import reflex as rx

STATUS_COLORS = {
    "booked": "gray",
    "arrived": "blue",
    "in_session": "amber",
    "ready_to_bill": "green",
    "billed": "teal",
    "no_show": "red",
    "cancelled": "tomato",
}


def status_badge(status, label) -> rx.Component:
    """A badge reading e.g. "Ready to bill"; colour follows the status."""
    return rx.badge(
        label,
        color_scheme=rx.match(status, *STATUS_COLORS.items(), "gray"),
        variant="soft",
        high_contrast=True,  # the darkest text of the colour: 4.5:1 or better on its soft background
        size="2",
        class_name="status-badge",
        data_status=status,
    )
