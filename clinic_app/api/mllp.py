"""An MLLP listener for HL7 v2 feeds: each framed message is applied by
services/hl7v2.ingest and answered with its ACK in the same framing (one message per
block, HL7 v2 "Minimal Lower Layer Protocol").

Stopping: SIGINT (Ctrl-C) and SIGTERM are taken by the event loop itself
(``loop.add_signal_handler``), installed before the port opens and whatever the signal's
disposition was at start. That matters: a process started in the background by a shell
without job control (``make test &``, a CI runner) inherits SIGINT *ignored*, and Python
then installs no KeyboardInterrupt handler, so asyncio's own Ctrl-C handling never runs and
the SIGINT was lost (the listener kept running until SIGTERM). The loop's handler also uses
the signal wake-up fd, so the signal is seen at once even when it is delivered to a worker
thread while the loop sleeps. Open connections are closed and the process ends within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from clinic_app.services.interop.hl7.hl7v2 import ingest

START, END = b"\x0b", b"\x1c\x0d"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve_mllp(*, host: str, port: int, username: str) -> int:
    """Listen for MLLP-framed messages; apply each and answer with its ACK, until SIGINT or SIGTERM."""
    from clinic_app.db import session_scope

    def apply(message: str) -> str:
        with session_scope() as session:
            return ingest(session, username=username, message=message)

    clients: set[asyncio.Task] = set()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        clients.add(task)
        try:
            while True:
                frame = await reader.readuntil(END)
                message = frame[frame.find(START) + 1 : -len(END)].decode("utf-8", errors="replace")
                reply = await asyncio.to_thread(apply, message)
                writer.write(START + reply.encode() + END)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            clients.discard(task)
            writer.close()

    async def main() -> str:
        loop = asyncio.get_running_loop()
        stop: asyncio.Future[str] = loop.create_future()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, lambda s=sig: stop.done() or stop.set_result(signal.Signals(s).name))
        server = await asyncio.start_server(client, host, port, limit=10_000_000)
        print(f"HL7 MLLP listener on {host}:{port}, acting as {username!r} (Ctrl-C stops it).", flush=True)
        try:
            return await stop
        finally:
            server.close()
            for task in list(clients):
                task.cancel()
            if clients:
                await asyncio.wait(list(clients), timeout=1)
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)

    # From here until the loop takes them, a signal stops the command the ordinary way (even if
    # it was ignored when the process started).
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in STOP_SIGNALS}
    try:
        with contextlib.suppress(KeyboardInterrupt):
            name = asyncio.run(main())
            print(f"HL7 MLLP listener stopped ({name}).", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
