"""The portal's Messages page (/portal/messages), phone first (390x844): the patient's
conversations with the clinic (new answers said in words), one open conversation with an answer
box, and a new message to the front desk or to one of their clinicians. Live: the clinic's
answer appears without a reload (state/portal_messages.py)."""

from __future__ import annotations

import reflex as rx

from clinic_app.components.fields import section_message
from clinic_app.pages.portal import FIELD_STYLE, TOUCH, shell
from clinic_app.state.portal_messages import PortalMessagesState

M = PortalMessagesState
AREA_STYLE = {**FIELD_STYLE, "height": "auto", "minHeight": "96px", "padding": "8px 10px"}


def _thread(t) -> rx.Component:
    return rx.el.li(
        rx.button(
            rx.vstack(
                rx.text(t.subject, weight="bold", size="3", style={"textAlign": "left"}),
                rx.text("To ", t.to_whom, " · ", t.when, size="2", color_scheme="gray"),
                rx.text(rx.cond(t.unread, rx.el.strong(t.status), t.status), size="2"),
                spacing="1", align="start",
            ),
            on_click=M.open_thread(t.id), variant=rx.cond(t.unread, "soft", "outline"),
            size="3", width="100%",
            style={**TOUCH, "height": "auto", "padding": "10px 12px", "justifyContent": "flex-start"},
        ),
        style={"listStyle": "none", "marginBottom": "8px"},
    )


def _message(m) -> rx.Component:
    return rx.el.li(
        rx.text(rx.el.strong(m.author), " · ", m.when, size="2", color_scheme="gray"),
        rx.text(m.body, size="3", style={"whiteSpace": "pre-wrap"}),
        style={"listStyle": "none", "padding": "10px 12px", "borderRadius": "8px", "marginBottom": "8px",
               "border": "1px solid var(--gray-6)",
               "background": rx.cond(m.mine, "var(--accent-3)", "var(--color-panel-solid)")},
    )


def _open_thread() -> rx.Component:
    return rx.el.section(
        rx.heading(M.open_subject, size="4", as_="h2", id="portal-thread-heading"),
        rx.text("With ", M.open_to, size="2", color_scheme="gray", margin_bottom="8px"),
        rx.el.ol(rx.foreach(M.open_messages, _message), aria_label="Messages, oldest first", style={"padding": "0"}),
        rx.el.form(
            rx.vstack(
                rx.el.label("Your answer", html_for="portal-reply"),
                rx.el.textarea(id="portal-reply", name="body", value=M.reply_text, on_change=M.set_reply, rows=4,
                               max_length=4000, style=AREA_STYLE),
                rx.hstack(
                    rx.button("Send answer", type="submit", loading=M.sending, size="3", style=TOUCH),
                    rx.button("Back to all messages", type="button", on_click=M.close_thread, variant="soft",
                              size="3", style=TOUCH),
                    spacing="3", wrap="wrap",
                ),
                spacing="2", width="100%",
            ),
            on_submit=M.send_reply,
        ),
        aria_labelledby="portal-thread-heading", margin_bottom="20px",
    )


def _new_message() -> rx.Component:
    return rx.el.section(
        rx.heading("New message", size="4", as_="h2", id="portal-new-heading", margin_bottom="8px"),
        rx.el.form(
            rx.vstack(
                rx.el.label("To", html_for="portal-new-to"),
                rx.el.select(rx.foreach(M.to_options, lambda o: rx.el.option(o.label, value=o.value)),
                             id="portal-new-to", name="to", value=M.new_to, on_change=M.set_new_to, style=FIELD_STYLE),
                rx.el.label("Subject", html_for="portal-new-subject"),
                rx.el.input(id="portal-new-subject", name="subject", value=M.new_subject, on_change=M.set_new_subject,
                            max_length=120, style=FIELD_STYLE),
                rx.el.label("Message", html_for="portal-new-body"),
                rx.el.textarea(id="portal-new-body", name="body", value=M.new_body, on_change=M.set_new_body, rows=5,
                               max_length=4000, style=AREA_STYLE),
                rx.text("For anything urgent, please call the clinic.", size="2", color_scheme="gray"),
                rx.hstack(
                    rx.button("Send message", type="submit", loading=M.sending, size="3", style=TOUCH),
                    rx.button("Cancel", type="button", on_click=M.stop_writing, variant="soft", size="3", style=TOUCH),
                    spacing="3", wrap="wrap",
                ),
                spacing="2", width="100%",
            ),
            on_submit=M.send_new,
        ),
        aria_labelledby="portal-new-heading", margin_bottom="20px",
    )


def portal_messages() -> rx.Component:
    return shell(
        "Messages",
        section_message(M.message, M.message_is_error),
        rx.cond(
            M.writing,
            _new_message(),
            rx.cond(
                M.open_id != 0,
                _open_thread(),
                rx.button("Write a new message", on_click=M.start_writing, size="3", style=TOUCH, margin_bottom="16px"),
            ),
        ),
        rx.heading("Your conversations", size="4", as_="h2", margin_bottom="8px"),
        rx.cond(
            M.threads.length() > 0,
            rx.el.ul(rx.foreach(M.threads, _thread), aria_label="Conversations, newest first", style={"padding": "0"}),
            rx.text("No messages yet."),
        ),
    )
