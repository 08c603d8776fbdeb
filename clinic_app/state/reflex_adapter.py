"""Every use of Reflex's internals, in one module (pinned: reflex 0.10.1).

The live spine and the session gate need a few things Reflex does not offer as public API:
which socket holds a tab on this worker (the event namespace's token manager), writing one
pre-encoded state delta on many sockets (Socket.IO and Engine.IO packets), the socket events
``new_token`` and ``state_mismatch`` of Reflex's frontend, the middleware hook, and a tab's
root state. They sit here only; tests/test_reflex_adapter.py pins each to the Reflex version,
so an upgrade that changes any of them fails there, loudly, before a screen goes quiet.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import reflex as rx
from engineio import packet as engineio_packet
from reflex.middleware import Middleware
from reflex.state import State, StateUpdate
from reflex_base.constants import SocketEvent
from reflex_base.event import Event
from socketio import packet as socketio_packet

PINNED = "0.10.1"  # the Reflex version these internals were checked against
__all__ = ["PINNED", "Middleware", "State", "StateUpdate"]

_app: rx.App | None = None


def install(app: rx.App) -> None:
    """Remember the app whose sockets and states the functions below reach."""
    global _app
    _app = app


def _namespace():
    return _app.event_namespace if _app is not None else None


def running() -> bool:
    """Whether the app's socket server is up on this worker."""
    return _namespace() is not None


def client_token(state: rx.State) -> str:
    """The browser tab's token, the key of its state and of the live registry."""
    return state.router.session.client_token


def socket_id(state: rx.State) -> str:
    """The id of the socket ``state``'s current event came over."""
    return state.router.session.session_id


def root_of(state: rx.State) -> rx.State:
    """The root of ``state``'s tree (the tab's whole state)."""
    return state._get_root_state()


def held_socket(token: str) -> str:
    """The socket id of ``token``'s tab if this worker holds its socket, else '' (with Redis,
    another worker may hold it)."""
    namespace = _namespace()
    if namespace is None:
        return ""
    manager = namespace._token_manager
    record = manager.token_to_socket.get(token)
    return record.sid if record is not None and record.instance_id == manager.instance_id else ""


@asynccontextmanager
async def state_of(token: str, cls: type[rx.State]) -> AsyncIterator[rx.State]:
    """``token``'s state ``cls`` under its lock; Reflex sends the tab the delta on leaving."""
    async with _app.modify_state(rx.BaseStateToken(ident=token, cls=cls)) as root:
        yield await root.get_state(cls)


def delta_packet(state: type[rx.State], rows: dict[str, object]) -> engineio_packet.Packet:
    """One state delta (``rows`` under the keys of ``state``'s object) encoded once, to be
    written on any number of sockets with ``send``."""
    namespace = _namespace()
    data = [str(SocketEvent.EVENT), delta(state, rows)]
    encoded = namespace.server.packet_class(socketio_packet.EVENT, namespace=namespace.namespace, data=data).encode()
    return engineio_packet.Packet(engineio_packet.MESSAGE, encoded)


def delta(state: type[rx.State], rows: dict[str, object]) -> dict:
    """The update a tab's browser applies: ``rows`` merged into ``state``'s object."""
    return {"delta": {state.get_full_name(): rows}}


async def send(socket_engine_id: str, packet: engineio_packet.Packet) -> None:
    """Queue ``packet`` on one socket's Engine.IO connection."""
    await _namespace().server.eio.send_packet(socket_engine_id, packet)


def room_members(room: str) -> list[str]:
    """The Engine.IO ids of the sockets in ``room`` on this worker."""
    namespace = _namespace()
    return [eio_sid for _sid, eio_sid in namespace.server.manager.get_participants(namespace.namespace, room)]


async def enter_room(sid: str, room: str) -> None:
    await _namespace().enter_room(sid, room)


async def leave_room(sid: str, room: str) -> None:
    namespace = _namespace()
    if namespace is not None:
        await namespace.leave_room(sid, room)


async def send_delta(sid: str, state: type[rx.State], rows: dict[str, object]) -> None:
    """A state delta to one socket."""
    await _namespace().emit(str(SocketEvent.EVENT), delta(state, rows), to=sid)


async def send_to_page(sid: str, path: str) -> bool:
    """Send the tab on socket ``sid`` to ``path`` with a new client token: Reflex's
    ``new_token`` (the tab's identity from now on), a redirect, and ``state_mismatch`` with no
    cooldown, on which the production frontend reloads the page (nothing of the previous page
    stays in the browser's memory). False when there is no such socket here."""
    namespace = _namespace()
    if namespace is None or not sid:
        return False
    await namespace.emit("new_token", str(uuid.uuid4()), to=sid)
    redirect = Event(name="_redirect", payload={"path": path, "external": False, "replace": True})
    await namespace.emit(str(SocketEvent.EVENT), StateUpdate(events=[redirect]), to=sid)
    await namespace.emit(str(SocketEvent.STATE_MISMATCH), {"backend": "signed-out", "reload_cooldown_ms": 0}, to=sid)
    return True
