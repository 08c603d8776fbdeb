"""What the chart shows that is not saved yet, saved in one go before the action that needs it
(sign, copy forward, leaving the visit): SOAP sections, template fields and procedure minutes,
all or nothing. Built on the note (``charting``) and its template fields (``templates``).
"""

from __future__ import annotations

from sqlmodel import Session

from clinic_app.db import utcnow
from clinic_app.models import Note
from clinic_app.services.charting import templates
from clinic_app.services.charting.charting import (
    MAX_FIELD,
    SOAP_FIELDS,
    commit_note,
    draft_conflict,
    editable_note,
    minutes_of,
    procedures,
)
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotFound

MAX_PENDING = 64  # fields a chart sends with one action (SOAP, template fields, minutes)


def save_pending(
    session: Session, *, actor: Actor, note_id: int, edits: dict[str, str], base: dict[str, str] | None = None
) -> list[str]:
    """Save every edit the chart shows that is not saved yet, all or nothing, before the
    action that depends on them (sign, copy forward, leaving the visit).

    ``edits`` maps a field to the text on screen: a SOAP section by name ("plan"), a
    template field as "field:<key>", a procedure line's minutes as "minutes:<code>".
    ``base`` holds each SOAP section as the device last loaded or saved it: if the saved
    section differs, another device changed it meanwhile and DraftConflict is raised
    (nothing is written). An edit that is refused names its field, and nothing is saved.
    Returns the fields written (empty when the screen and the note already agree).
    """
    if not isinstance(edits, dict) or len(edits) > MAX_PENDING:
        raise InvalidInput("That request was not understood; reload the page.")
    edits = {str(k): "" if v is None else str(v) for k, v in edits.items()}
    note = session.get(Note, note_id)
    if note is None:
        raise NotFound("That note no longer exists.")
    lines = {p.code: p for p in procedures(session, note_id=note.id)}
    stored_fields = templates.values(session, note_id=note.id)
    soap, fields, minutes = {}, {}, {}
    for key, text in edits.items():
        if key in SOAP_FIELDS:
            if len(text) > MAX_FIELD:
                raise InvalidInput(f"The {key} section is over {MAX_FIELD:,} characters; shorten it or split it.")
            if text != (getattr(note, key) or ""):
                soap[key] = text
        elif key.startswith("field:"):
            name = key.removeprefix("field:")
            if text != stored_fields.get(name, ""):
                fields[name] = text
        elif key.startswith("minutes:"):
            code = key.removeprefix("minutes:")
            line = lines.get(code)
            if line is None:
                raise InvalidInput(f"{code[:8]} is no longer on this note; reopen it.")
            value = minutes_of(text, code)
            if value != line.minutes:
                minutes[code] = value
        else:
            raise InvalidInput("That request was not understood; reload the page.")
    if not (soap or fields or minutes):
        return []
    note = editable_note(session, actor=actor, note_id=note_id)
    for key, text in soap.items():
        saved = getattr(note, key) or ""
        before = (base or {}).get(key)
        if before is not None and saved != before:
            raise draft_conflict(key, saved)
        setattr(note, key, text)
    changed = [f"field:{name}" for name, text in fields.items() if templates.stage_field(session, note, name, text)]
    for code, value in minutes.items():
        lines[code].minutes = value
        session.add(lines[code])
    note.updated_at = utcnow()
    session.add(note)
    commit_note(session)
    return [*soap, *changed, *(f"minutes:{c}" for c in minutes)]
