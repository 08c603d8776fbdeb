"""The staff inbox (/messages): conversations about patients, with colleagues and with patients."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.fields import panel, section_message
from clinic_app.components.layout import frame
from clinic_app.state.messages import MessagesState as S

TOUCH = {"min_height": "44px"}


def _thread(item) -> rx.Component:
    return rx.el.li(
        rx.button(
            rx.vstack(
                rx.hstack(
                    rx.cond(item.unread, rx.badge("New", color_scheme="blue", variant="solid", high_contrast=True)),
                    rx.text(item.subject, weight=rx.cond(item.unread, "bold", "regular"), size="3"),
                    spacing="2", align="center",
                ),
                rx.text(item.patient, size="2"),
                rx.text(item.with_whom, " · ", item.when, size="1", color="var(--gray-11)"),
                rx.text(item.last_text, size="1", color="var(--gray-11)"),
                spacing="0", align="start", width="100%",
            ),
            on_click=S.open_thread(item.id),
            aria_current=rx.cond(S.open_id == item.id, "true", "false"),
            variant=rx.cond(S.open_id == item.id, "soft", "ghost"),
            width="100%", height="auto", padding="8px", justify="start", text_align="left",
            style={"whiteSpace": "normal"},
        ),
        list_style="none",
        border_bottom="1px solid var(--gray-5)",
    )


def _message(item) -> rx.Component:
    return rx.el.li(
        rx.box(
            rx.text(item.author, " · ", item.when, size="1", weight="bold"),
            rx.text(item.body, size="2", white_space="pre-wrap"),
            rx.cond(item.receipt != "", rx.text(item.receipt, size="1", color="var(--gray-11)")),
            padding="8px",
            border_radius="8px",
            background=rx.cond(item.mine, "var(--accent-3)", "var(--gray-3)"),
            max_width="85%",
            margin_left=rx.cond(item.mine, "auto", "0"),
        ),
        list_style="none",
        margin_bottom="6px",
    )


def _new_message() -> rx.Component:
    return panel(
        "Write to colleagues",
        rx.text("About ", rx.text.strong(S.new_patient), size="2", margin_bottom="6px"),
        rx.form(
            rx.el.fieldset(
                rx.el.legend("To", style={"fontSize": "14px"}),
                rx.flex(
                    rx.foreach(S.colleagues, lambda c: rx.el.label(
                        rx.checkbox(name="to-" + c[0], default_checked=False),
                        c[1], style={"display": "flex", "gap": "6px", "alignItems": "center", "minHeight": "44px"},
                    )),
                    gap="12px", wrap="wrap",
                ),
                style={"border": "none", "padding": "0", "margin": "0 0 8px 0"},
            ),
            rx.el.label("Subject", html_for="new-subject", style={"fontSize": "14px"}),
            rx.input(id="new-subject", name="subject", value=S.new_subject, on_change=S.set_new_subject, max_length=120,
                     size="3", margin_bottom="8px"),
            rx.el.label("Message", html_for="new-body", style={"fontSize": "14px"}),
            rx.text_area(id="new-body", name="body", value=S.new_body, on_change=S.set_new_body, rows="4", max_length=4000),
            section_message(S.message, S.message_is_error),
            rx.hstack(
                rx.button("Send to colleagues", type="submit", loading=S.sending, size="3", **TOUCH),
                rx.button("Cancel", type="button", on_click=S.cancel_new, variant="soft", size="3", **TOUCH),
                margin_top="8px",
            ),
            on_submit=S.send_new,
        ),
        panel_id="new-message",
    )


def _open_thread() -> rx.Component:
    return rx.cond(
        S.open_id != 0,
        panel(
            S.open_subject,
            rx.text("About ", rx.link(S.open_patient, href=S.open_patient_href), size="2"),
            rx.text("With ", S.open_with, size="1", color="var(--gray-11)", margin_bottom="8px"),
            rx.el.ol(rx.foreach(S.open_messages, _message), aria_label="Messages, oldest first",
                     style={"padding": "0", "maxHeight": "420px", "overflowY": "auto"}),
            rx.form(
                rx.el.label("Your answer", html_for="reply-body", style={"fontSize": "14px"}),
                rx.text_area(id="reply-body", name="body", value=S.reply_text, on_change=S.set_reply, rows="3",
                             max_length=4000),
                rx.cond(S.new_patient_id == 0, section_message(S.message, S.message_is_error)),
                rx.button("Send answer", type="submit", loading=S.sending, size="3", **TOUCH),
                on_submit=S.send_reply,
            ),
            panel_id="open-thread",
        ),
        rx.text("Choose a conversation to read it.", size="2", color="var(--gray-11)"),
    )


def messages_page() -> rx.Component:
    return frame(
        "Messages",
        rx.cond(S.new_patient_id != 0, _new_message()),
        rx.hstack(
            rx.box(
                rx.heading(
                    "Conversations",
                    rx.cond(S.unread_threads > 0, rx.text.span(" (", S.unread_threads, " with new messages)", size="2")),
                    size="4", as_="h2", margin_bottom="6px",
                ),
                rx.cond(
                    S.threads.length() == 0,
                    rx.text("No conversations yet. Write to a colleague from a patient's profile.", size="2"),
                    rx.el.ul(rx.foreach(S.threads, _thread), style={"padding": "0", "margin": "0"},
                             aria_label="Conversations, newest first"),
                ),
                width="40%", min_width="320px",
            ),
            rx.box(_open_thread(), flex="1"),
            align="start", spacing="4", width="100%", wrap="wrap",
        ),
    )
