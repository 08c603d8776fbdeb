"""A real SMTP server for tests (aiosmtpd on a free local port) and the inbox it fills."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.policy import default

from aiosmtpd.controller import Controller


class Inbox:
    """Every message the server received: (recipients, parsed message)."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=default)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """(inbox, port) of a running SMTP server, stopped on leaving."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def wait_for_mail(inbox: Inbox, subject: str, timeout: float = 30):
    """(recipients, message) of the first message with ``subject``, waiting up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for to, message in inbox.messages:
            if message["Subject"] == subject:
                return to, message
        time.sleep(0.2)
    raise AssertionError(f"no e-mail {subject!r} arrived; got {[m['Subject'] for _, m in inbox.messages]}")
