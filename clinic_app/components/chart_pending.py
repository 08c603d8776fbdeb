"""What the chart's note fields show right now, read from the page at the tap.

Autosave is debounced (a save 400 ms after the last key), so a tap on Sign, Copy forward,
another visit or Close can come before the last words are saved. Those actions carry
``PENDING``: every note field on screen (named ``note:<field>``: the SOAP sections, the
template's text and number fields, the procedure lines' minutes) with its text at the
moment of the tap, and the id of the note the page shows. The state saves what differs
first, in the same round trip (``NoteSection._flush``), then acts.

The page also says plainly when the connection is down (what is typed then is not saved
until it is back: Reflex keeps the queued saves and sends them when the socket
reconnects), asks before the page is left while it is down, and blurs the field being
typed in when the page is left, so that its pending autosave is sent at once.
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.core.banner import has_connection_errors

PENDING = rx.Var(
    "(() => { const out = {}; "
    "document.querySelectorAll('[name^=\"note:\"]').forEach((e) => { "
    "if (!e.readOnly && !e.disabled) { out[e.name.slice(5)] = e.value; } }); "
    "const visit = document.getElementById('chart-visit'); "
    "if (visit && visit.dataset.note) { out._note = visit.dataset.note; } "
    "return out; })()",
    _var_type=dict,
)

OFFLINE = has_connection_errors

# Leaving the page: the field being typed in is blurred (its debounced save is sent at
# once), and while the connection is down the browser asks first. A file (/clinic-chart.js):
# the Content-Security-Policy runs no inline script a page adds after it loads.
LEAVE_GUARD = "/clinic-chart.js"
