"""An MLLP listener for HL7 v2 feeds: each framed message is applied by
services/hl7v2.ingest and answered with its ACK in the same framing."""

from __future__ import annotations

import asyncio
import contextlib

from clinic_app.services.hl7v2 import ingest

START, END = b"\x0b", b"\x1c\x0d"


def serve_mllp(*, host: str, port: int, username: str) -> int:
    """Listen for MLLP-framed messages; apply each and answer with its ACK (until Ctrl-C)."""
    from clinic_app.db import session_scope

    def apply(message: str) -> str:
        with session_scope() as session:
            return ingest(session, username=username, message=message)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                frame = await reader.readuntil(END)
                message = frame[frame.find(START) + 1 : -len(END)].decode("utf-8", errors="replace")
                reply = await asyncio.to_thread(apply, message)
                writer.write(START + reply.encode() + END)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(client, host, port, limit=10_000_000)
        print(f"HL7 MLLP listener on {host}:{port}, acting as {username!r} (Ctrl-C stops it).", flush=True)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0
