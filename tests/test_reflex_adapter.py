"""The contract of the Reflex internals the app relies on, pinned to one Reflex version.

state/reflex_adapter.py is the only module that reaches past Reflex's public API. Each test
here checks one thing it reaches for, as the installed Reflex has it; an upgrade that moves or
changes any of them fails here by name (and the pin must be raised on purpose, after the e2e
live and session tests pass on the new version)."""

from __future__ import annotations

import inspect
from importlib.metadata import version
from pathlib import Path

import reflex
from engineio import packet as engineio_packet
from reflex.app import EventNamespace
from reflex.middleware import Middleware
from reflex.utils.token_manager import TokenManager
from reflex_base.constants import SocketEvent
from reflex_base.event import Event
from socketio import packet as socketio_packet

from clinic_app.state import reflex_adapter


def test_the_installed_reflex_is_the_version_the_adapter_was_checked_against():
    assert version("reflex") == reflex_adapter.PINNED


def test_the_token_manager_maps_a_tab_token_to_its_socket_and_worker():
    assert "self._token_manager = TokenManager.create()" in inspect.getsource(EventNamespace.__init__)
    manager = TokenManager.create()
    assert isinstance(manager.token_to_socket, dict) and isinstance(manager.instance_id, str)
    record_fields = inspect.get_annotations(type(manager)).keys() | set(dir(manager))
    assert "token_to_socket" in record_fields and "instance_id" in record_fields
    from reflex.utils.token_manager import SocketRecord

    assert {"sid", "instance_id"} <= set(inspect.get_annotations(SocketRecord))


def test_a_state_delta_encodes_as_one_socketio_event_packet_on_engineio():
    data = [str(SocketEvent.EVENT), {"delta": {"state.calendar_state": {"live:1": {"id": 1}}}}]
    encoded = socketio_packet.Packet(socketio_packet.EVENT, namespace="/_event", data=data).encode()
    assert encoded.startswith('2/_event,["event",')
    message = engineio_packet.Packet(engineio_packet.MESSAGE, encoded)
    assert message.encode().startswith('42/_event,')


def test_the_frontend_handles_new_token_and_state_mismatch_with_a_reload_cooldown():
    import reflex_base

    scripts = list((Path(reflex_base.__file__).parent / ".templates" / "web" / "utils").glob("state.js"))
    assert scripts, "reflex's frontend state.js is where new_token and state_mismatch are handled"
    text = "\n".join(p.read_text() for p in scripts)
    assert '"new_token"' in text or "'new_token'" in text
    assert str(SocketEvent.STATE_MISMATCH) in text and "reload_cooldown_ms" in text
    assert str(SocketEvent.EVENT) == "event"


def test_the_middleware_hook_and_the_redirect_event_have_the_shapes_used():
    assert list(inspect.signature(Middleware.preprocess).parameters) == ["self", "app", "state", "event"]
    redirect = Event(name="_redirect", payload={"path": "/login", "external": False, "replace": True})
    assert redirect.name == "_redirect"
    assert hasattr(reflex.State, "_get_root_state") and hasattr(reflex.App, "modify_state")
