"""Visit notes: drafts that autosave, codes, signing, co-signing and addenda.

Signing is one transaction: the note is locked, the visit becomes ready to bill and
its charges are captured. It happens once; a second attempt (a double tap, a second
tablet) finds the note signed and changes nothing.

Co-signature: a provider with a supervisor (``ClinicianSupervision``: an assistant or
a student) signs their note, which locks it; the visit becomes ready to bill, and its
charges are captured, only when the supervising clinician co-signs. Until then the
visit stays "in session", so it counts among the notes awaiting signature.

After signing, corrections are addenda: dated, with their author, shown with the
original, never changed (the database refuses it too).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.models import (
    Appointment,
    AppointmentEvent,
    Charge,
    ClinicianSupervision,
    Fee,
    Location,
    Note,
    NoteAddendum,
    NoteCosignature,
    NoteDiagnosis,
    NoteField,
    NoteForm,
    NoteProcedure,
    Patient,
    Provider,
    User,
)
from clinic_app.services.charting import timed_units
from clinic_app.services.charting.codes import fee_for, normalise_icd10
from clinic_app.services.frontdesk import board
from clinic_app.services.frontdesk.scheduling import STATUS_LABELS, publish_change
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import hhmm, local_day
from clinic_app.services.platform.errors import (
    ClinicError,
    DraftConflict,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NoteAlreadySigned,
    NotFound,
    from_db_error,
)
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import payers, pricing, repricing

SOAP_FIELDS = ("subjective", "objective", "assessment", "plan")
MAX_FIELD = 20_000
MAX_DIAGNOSES = 12  # a claim holds up to 12
MAX_PROCEDURES = 12
MAX_UNITS = 24
MAX_MINUTES = 480
# Visits whose note a clinician may open and write.
CHARTABLE = ("booked", "arrived", "in_session", "ready_to_bill", "billed")


def _own_appointment(session: Session, actor: Actor, appointment_id: int) -> Appointment:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("That visit no longer exists.")
    if appointment.provider_id != actor.provider_id:
        # Clinicians see their own patients' visits only (minimum necessary).
        raise NotAllowed("This visit belongs to another clinician.")
    return appointment


def _draft(session: Session, actor: Actor, note_id: int, *, lock: bool = False) -> Note:
    for_write(session)
    require(actor.role, "note.edit")
    query = select(Note).where(Note.id == note_id)
    if lock:
        query = query.with_for_update()
    note = session.exec(query).first()
    refusal = (
        NotFound("That note no longer exists.") if note is None
        else NotAllowed("This note belongs to another clinician.") if note.provider_id != actor.provider_id
        else NoteAlreadySigned("This note is signed and can no longer be changed.") if note.signed_at is not None
        else None
    )
    if refusal is not None:
        raise refusal
    return note


def editable_note(session: Session, *, actor: Actor, note_id: int) -> Note:
    """A draft note of the actor's own, locked for a change (other services add to notes)."""
    return _draft(session, actor, note_id, lock=True)


def readable_note(session: Session, *, actor: Actor, note_id: int) -> Note:
    """A note the actor may read (their own or a supervisee's); no audit row, for lookups."""
    return _viewable(session, actor, note_id)


def open_note(session: Session, *, actor: Actor, appointment_id: int) -> Note:
    """The visit's note, created as an empty draft the first time. Audited as a view."""
    for_write(session)
    require(actor.role, "chart.view")
    appointment = _own_appointment(session, actor, appointment_id)
    if appointment.status not in CHARTABLE:
        raise InvalidInput("This visit was cancelled or missed; there is no note to write.")
    note = session.exec(select(Note).where(Note.appointment_id == appointment_id)).first()
    if note is None:
        note = Note(
            appointment_id=appointment_id,
            patient_id=appointment.patient_id,
            provider_id=appointment.provider_id,
        )
        try:
            with session.begin_nested():
                session.add(note)
        except IntegrityError:
            # The same note was created a moment ago from another device: use that one.
            note = session.exec(select(Note).where(Note.appointment_id == appointment_id)).one()
    audit.record(
        session, actor=actor, action="view", entity="note", entity_id=note.id,
        patient_id=note.patient_id,
    )
    session.flush()
    return note


def draft_conflict(field: str, saved: str) -> DraftConflict:
    """The refusal of a section another device changed meanwhile (the saved text travels with it)."""
    return DraftConflict(
        f"The {field} section was changed on another device while you were writing. Your text "
        "is kept here but not saved yet: choose to keep yours or to use the other device's text.",
        saved_text=saved, field=field,
    )


def save_draft(
    session: Session, *, actor: Actor, note_id: int, field: str, text: str, base_text: str | None = None
) -> Note:
    """Autosave one SOAP field of a draft.

    ``base_text`` is the section as this device last loaded or saved it. If the saved
    section differs from it, another device changed it meanwhile: DraftConflict is
    raised with the saved text, nothing is written, and the caller keeps its own text.
    Without ``base_text`` the save overwrites (a deliberate "keep my text").
    """
    if field not in SOAP_FIELDS:
        raise InvalidInput(f"Unknown note section {field!r}.")
    text = text or ""
    if len(text) > MAX_FIELD:
        raise InvalidInput(
            f"The {field} section is over {MAX_FIELD:,} characters; shorten it or split it."
        )
    signed = session.get(Note, note_id)
    if signed is not None and signed.signed_at is not None and getattr(signed, field) == text \
            and signed.provider_id == actor.provider_id:
        # A debounced autosave arriving after the signature that carried the same text:
        # nothing to change, nothing to refuse.
        return signed
    note = _draft(session, actor, note_id, lock=True)
    saved = getattr(note, field)
    if saved == text:
        return note
    if base_text is not None and saved != base_text:
        raise draft_conflict(field, saved)
    setattr(note, field, text)
    note.updated_at = utcnow()
    session.add(note)
    commit_note(session)
    return note


def copy_forward(session: Session, *, actor: Actor, note_id: int) -> list[str]:
    """Start a draft from the patient's last signed note with this clinician.

    Only empty sections are filled (what is already written is never replaced), and
    diagnoses not yet on the note are added. Procedures and measures are not copied:
    they are what happened at this visit. Returns what was copied, in words.
    """
    note = _draft(session, actor, note_id, lock=True)
    here = session.get(Appointment, note.appointment_id)
    last = session.exec(
        select(Note)
        .join(Appointment, Appointment.id == Note.appointment_id)
        .where(
            Note.patient_id == note.patient_id, Note.provider_id == note.provider_id, Note.id != note.id,
            Note.signed_at.is_not(None), Appointment.starts_at < here.starts_at,
        )
        .order_by(Appointment.starts_at.desc())
    ).first()
    if last is None:
        raise InvalidInput("There is no earlier signed note of this patient with you to copy from.")
    copied = []
    for field in SOAP_FIELDS:
        if not (getattr(note, field) or "").strip() and (getattr(last, field) or "").strip():
            setattr(note, field, getattr(last, field))
            copied.append(field)
    have = {d.code for d in diagnoses(session, note_id=note.id)}
    room = MAX_DIAGNOSES - len(have)
    new_dx = [d.code for d in diagnoses(session, note_id=last.id) if d.code not in have][: max(room, 0)]
    for code in new_dx:
        session.add(NoteDiagnosis(note_id=note.id, code=code))
    # The template and the structured values this draft does not have yet.
    old_form = session.exec(select(NoteForm).where(NoteForm.note_id == last.id)).first()
    if old_form and session.exec(select(NoteForm).where(NoteForm.note_id == note.id)).first() is None:
        session.add(NoteForm(note_id=note.id, template_code=old_form.template_code, template_version=old_form.template_version))
        copied.append("template")
    have_keys = set(session.exec(select(NoteField.key).where(NoteField.note_id == note.id)))
    for old in session.exec(select(NoteField).where(NoteField.note_id == last.id)).all():
        if old.key not in have_keys and old.value not in ("", "[]"):
            session.add(NoteField(note_id=note.id, key=old.key, value=old.value))
            copied.append(old.key)
    if not copied and not new_dx:
        raise InvalidInput("Nothing to copy: every section already has text and the diagnoses are on the note.")
    note.updated_at = utcnow()
    session.add(note)
    audit.record(session, actor=actor, action="copy_forward", entity="note", entity_id=note.id,
                 patient_id=note.patient_id, detail=f"from note {last.id}")
    commit_note(session)
    sections = [c for c in copied if c in SOAP_FIELDS]
    fields = [c for c in copied if c not in (*SOAP_FIELDS, "template")]
    words = [f"{', '.join(sections)} section(s)"] if sections else []
    if "template" in copied:
        words.append("the template")
    if fields:
        words.append(f"{len(fields)} template field value(s)")
    if new_dx:
        words.append(f"diagnoses {', '.join(new_dx)}")
    return words


def diagnoses(session: Session, *, note_id: int) -> list[NoteDiagnosis]:
    """A note's diagnoses in claim order."""
    return list(session.exec(select(NoteDiagnosis).where(NoteDiagnosis.note_id == note_id).order_by(NoteDiagnosis.id)))


def procedures(session: Session, *, note_id: int) -> list[NoteProcedure]:
    """A note's procedure lines in entry order."""
    return list(session.exec(select(NoteProcedure).where(NoteProcedure.note_id == note_id).order_by(NoteProcedure.id)))


def add_diagnosis(session: Session, *, actor: Actor, note_id: int, code: str) -> NoteDiagnosis:
    """Add a billable ICD-10-CM code to a draft."""
    code = normalise_icd10(code)
    note = _draft(session, actor, note_id, lock=True)
    existing = diagnoses(session, note_id=note.id)
    if any(d.code == code for d in existing):
        raise InvalidInput(f"{code} is already on this note.")
    if len(existing) >= MAX_DIAGNOSES:
        raise InvalidInput(f"A note can carry at most {MAX_DIAGNOSES} diagnoses.")
    row = NoteDiagnosis(note_id=note.id, code=code)
    session.add(row)
    commit_note(session)
    return row


def remove_diagnosis(session: Session, *, actor: Actor, note_id: int, code: str) -> None:
    """Remove a code from a draft."""
    _draft(session, actor, note_id, lock=True)
    row = session.exec(select(NoteDiagnosis).where(NoteDiagnosis.note_id == note_id, NoteDiagnosis.code == code)).first()
    if row is not None:
        session.delete(row)
    commit_note(session)


def _whole(text: int | str | None, *, low: int, high: int, what: str) -> int | None:
    text = "" if text is None else str(text).strip()
    if text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise InvalidInput(f"{what} must be a whole number from {low} to {high}.")
    return value


# Medicare's modifiers for services furnished in whole or in part by a therapy assistant.
ASSISTANT_MODIFIERS = {"PTA": "CQ", "OTA": "CO"}


def assistant_modifier(session: Session, *, provider_id: int) -> str:
    """CQ for a physical therapist assistant's services, CO for an occupational therapy
    assistant's, "" for anyone else."""
    provider = session.get(Provider, provider_id)
    return ASSISTANT_MODIFIERS.get(provider.assistant_kind if provider else "", "")


def charge_modifiers(entered: str, automatic: str) -> str:
    """A line's modifiers as captured on its charge: those entered, then CQ/CO if it applies."""
    mods = [m for m in entered.split(",") if m]
    if automatic and automatic not in mods:
        mods.append(automatic)
    return ",".join(mods[:4])


def add_procedure(
    session: Session, *, actor: Actor, note_id: int, code: str, units: int | str | None = None,
    minutes: int | str | None = None, rule: str | None = None, modifiers: str = "",
) -> NoteProcedure:
    """Add a procedure code to a draft (the code must be on the fee list).

    ``minutes`` record the time of a timed code. Units left blank on a timed code with
    minutes are worked out from the visit's timed minutes (``suggested_units``); units
    that disagree with the minutes are kept as entered and reported by ``unit_warnings``.
    ``modifiers``: up to four (e.g. "GP, 59"); on an assistant's note CQ/CO is added to
    each line when its charge is captured, so three are left for the clinician.
    """
    units = _whole(units, low=1, high=MAX_UNITS, what="Units")
    minutes = _whole(minutes, low=1, high=MAX_MINUTES, what="Minutes")
    modifiers = payers.parse_modifiers(modifiers)
    fee = fee_for(session, code)
    if units is None and not (fee.timed and minutes):
        raise InvalidInput(
            "Units must be a whole number from 1 to 24."
            + (" Or enter the minutes and leave units blank to have them worked out." if fee.timed else "")
        )
    note = _draft(session, actor, note_id, lock=True)
    existing = procedures(session, note_id=note.id)
    if any(p.code == fee.code for p in existing):
        raise InvalidInput(f"{fee.code} is already on this note; remove it and add it again to change it.")
    if len(existing) >= MAX_PROCEDURES:
        raise InvalidInput(f"A note can carry at most {MAX_PROCEDURES} procedure lines.")
    if units is None:
        lines = [(p.code, p.minutes) for p in existing] + [(fee.code, minutes)]
        units = _suggest(session, lines, rule).get(fee.code, 0)
        if units == 0:
            raise InvalidInput(
                f"{minutes} minute(s) of {fee.code} bill no unit under the {_rule_name(rule)}; "
                "enter the units yourself if the payer allows it, or leave the code off."
            )
    automatic = assistant_modifier(session, provider_id=note.provider_id)
    entered = [m for m in modifiers.split(",") if m]
    if automatic and automatic not in entered and len(entered) >= 4:
        raise InvalidInput(
            f"{automatic} is added to every line of this assistant's note, leaving room for three more modifiers; "
            f"{fee.code} has four."
        )
    row = NoteProcedure(note_id=note.id, code=fee.code, units=units, minutes=minutes, modifiers=modifiers)
    session.add(row)
    commit_note(session)
    return row


def _rule_name(rule: str | None) -> str:
    return timed_units.RULES.get(rule or settings.TIMED_UNIT_RULE, rule or settings.TIMED_UNIT_RULE)


def _timed_codes(session: Session, codes: list[str]) -> set[str]:
    if not codes:
        return set()
    return set(session.exec(select(Fee.code).where(Fee.code.in_(codes), Fee.timed)))


def _suggest(session: Session, lines: list[tuple[str, int | None]], rule: str | None) -> dict[str, int]:
    timed = _timed_codes(session, [code for code, _ in lines])
    minutes = {code: m for code, m in lines if code in timed and m}
    return timed_units.allocate(minutes, rule or settings.TIMED_UNIT_RULE)


def suggested_units(session: Session, *, note_id: int, rule: str | None = None) -> dict[str, int]:
    """Units each timed line with minutes should carry under the clinic's rule."""
    return _suggest(session, [(p.code, p.minutes) for p in procedures(session, note_id=note_id)], rule)


def unit_warnings(session: Session, *, note_id: int, rule: str | None = None) -> list[str]:
    """Where a note's timed units and minutes disagree, in words (empty when they agree)."""
    lines = procedures(session, note_id=note_id)
    suggested = _suggest(session, [(p.code, p.minutes) for p in lines], rule)
    timed = _timed_codes(session, [p.code for p in lines])
    name = _rule_name(rule)
    total = sum(p.minutes or 0 for p in lines if p.code in timed)
    warnings = []
    for line in lines:
        if line.code not in timed:
            continue
        if not line.minutes:
            warnings.append(f"{line.code} is a timed code: record its minutes.")
        elif suggested[line.code] != line.units:
            warnings.append(
                f"{line.code}: {line.units} unit(s) entered, but under the {name} "
                f"({total} timed minute(s) in this visit) it supports {suggested[line.code]}"
                + ("; remove it or correct the minutes." if suggested[line.code] == 0 else ".")
            )
    return warnings


def apply_suggested_units(session: Session, *, actor: Actor, note_id: int, rule: str | None = None) -> None:
    """Set each timed line's units to what its minutes support.

    A line whose minutes support no unit is left for the clinician to remove (its
    warning says so): a code is never dropped from a note behind their back.
    """
    note = _draft(session, actor, note_id, lock=True)
    suggested = suggested_units(session, note_id=note.id, rule=rule)
    for line in procedures(session, note_id=note.id):
        if suggested.get(line.code, 0) not in (0, line.units):
            line.units = suggested[line.code]
            session.add(line)
    commit_note(session)


def remove_procedure(session: Session, *, actor: Actor, note_id: int, code: str) -> None:
    """Remove a procedure line from a draft."""
    _draft(session, actor, note_id, lock=True)
    row = session.exec(select(NoteProcedure).where(NoteProcedure.note_id == note_id, NoteProcedure.code == code)).first()
    if row is not None:
        session.delete(row)
    commit_note(session)


def commit_note(session: Session) -> None:
    """Write a change to a note (or what belongs to it) for the caller to commit; a database rule
    it breaks is refused in words, and the caller's transaction stays usable."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise (from_db_error(exc) or InvalidInput("That change conflicts with the saved note.")) from exc


def supervisor_of(session: Session, *, provider_id: int) -> int | None:
    """The supervising provider of an assistant's or student's provider record, if any."""
    return session.exec(
        select(ClinicianSupervision.supervisor_provider_id).where(ClinicianSupervision.provider_id == provider_id)
    ).first()


def sign_note(
    session: Session, *, actor: Actor, note_id: int, now: dt.datetime | None = None, rule: str | None = None
) -> list[Charge]:
    """Sign a note: lock it, make the visit ready to bill, capture its charges. All or nothing.

    A supervised clinician's signature only locks the note: the visit becomes ready to
    bill at the supervisor's co-signature (``cosign_note``); an empty list is returned.
    """
    for_write(session)
    require(actor.role, "note.sign")
    now = now or utcnow()
    note = session.exec(select(Note).where(Note.id == note_id).with_for_update()).first()
    if note is None:
        raise NotFound("That note no longer exists.")
    if note.provider_id != actor.provider_id:
        raise NotAllowed("Only the visit's own clinician can sign this note.")
    if note.signed_at is not None:
        raise NoteAlreadySigned("This note is already signed; its charges were captured then.")
    appointment = session.get(Appointment, note.appointment_id)
    refusals = _refusals(session, note, appointment, rule)
    if refusals:
        raise refusals[0].error
    supervised = supervisor_of(session, provider_id=note.provider_id) is not None

    # Conditional update: if another device signed first, it matches nothing and we stop.
    signed = session.execute(
        update(Note).where(Note.id == note.id, Note.signed_at.is_(None)).values(signed_at=now, signed_by_user_id=actor.user_id)
    ).rowcount
    if signed != 1:
        raise NoteAlreadySigned("This note was signed a moment ago on another device.")
    charges = [] if supervised else _make_billable(
        session, actor=actor, note=note, appointment=appointment, now=now, event="note signed"
    )
    audit.record(
        session, actor=actor, action="sign", entity="note", entity_id=note.id, patient_id=note.patient_id,
        detail="awaiting co-signature" if supervised else f"{len(charges)} charge lines",
    )
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise NoteAlreadySigned("This note was signed a moment ago on another device.") from exc
    session.refresh(appointment)
    # Also when supervised (the visit stays in session): the supervisor's open notes list
    # gains the note awaiting their co-signature, and the author's loses it.
    publish_change(session, appointment)
    return charges


@dataclass(frozen=True)
class Blocker:
    """Something that stops a note being signed, with where on the chart it is fixed."""

    error: ClinicError
    section: str  # the chart section holding the field: note, codes
    target: str  # the id of the control that fixes it

    @property
    def text(self) -> str:
        return str(self.error)


def _refusals(session: Session, note: Note, appointment: Appointment, rule: str | None = None) -> list[Blocker]:
    found = []
    if appointment.status != "in_session":
        found.append(Blocker(IllegalTransition(
            f"The visit is {STATUS_LABELS[appointment.status]}; start the session before signing."), "note", "start-session"))
    if not any((getattr(note, f) or "").strip() for f in SOAP_FIELDS):
        found.append(Blocker(InvalidInput("The note is empty; write at least one section before signing."),
                             "note", "soap-subjective"))
    if not diagnoses(session, note_id=note.id):
        found.append(Blocker(InvalidInput("Add at least one diagnosis (ICD-10-CM) before signing."), "codes", "dx-search"))
    if not procedures(session, note_id=note.id):
        found.append(Blocker(InvalidInput("Add at least one procedure code before signing."), "codes", "px-code"))
    # Units billed must follow the minutes recorded (lines without minutes are only warned of).
    mismatched = [w for w in unit_warnings(session, note_id=note.id, rule=rule) if "record its minutes" not in w]
    if mismatched:
        found.append(Blocker(InvalidInput(" ".join(mismatched) + " Correct the units (or the minutes) before signing."),
                             "codes", "units-fix"))
    return found


def sign_blockers(session: Session, *, note_id: int, rule: str | None = None) -> list[Blocker]:
    """Everything that stops a draft being signed now (empty for a signed note or one ready to sign)."""
    note = session.get(Note, note_id)
    if note is None or note.signed_at is not None:
        return []
    return _refusals(session, note, session.get(Appointment, note.appointment_id), rule)


def _make_billable(
    session: Session, *, actor: Actor, note: Note, appointment: Appointment, now: dt.datetime, event: str
) -> list[Charge]:
    """Move the visit to ready to bill and add its charges (inside the caller's transaction)."""
    moved = session.execute(
        update(Appointment)
        .where(Appointment.id == appointment.id, Appointment.status == "in_session")
        .values(status="ready_to_bill")
    ).rowcount
    if moved != 1:
        raise NoteAlreadySigned("This note was signed a moment ago on another device.")
    dx = diagnoses(session, note_id=note.id)
    pointers = ",".join(d.code for d in dx[:4])
    # Priced for the payer covering the patient on the date of service (or self-pay).
    service_day = local_day(appointment.starts_at, session.get(Location, appointment.location_id).timezone)
    charges = []
    automatic = assistant_modifier(session, provider_id=note.provider_id)
    for line_no, line in enumerate(procedures(session, note_id=note.id), start=1):
        fee = fee_for(session, line.code)
        price = pricing.unit_price(session, fee=fee, patient_id=appointment.patient_id, day=service_day)
        charge = Charge(
            appointment_id=appointment.id,
            note_id=note.id,
            line_no=line_no,
            code=line.code,
            units=line.units,
            unit_price_cents=price,
            amount_cents=price * line.units,
            diagnosis_codes=pointers,
            modifiers=charge_modifiers(line.modifiers, automatic),
            created_at=now,
        )
        session.add(charge)
        charges.append(charge)
    # Which schedule priced them (the claim scrubber checks it against the claim's payer).
    repricing.record_capture(session, charges=charges, user_id=actor.user_id, now=now,
                             coverage=repricing.basis_on(session, patient_id=appointment.patient_id, day=service_day))
    session.add(
        AppointmentEvent(
            appointment_id=appointment.id, from_status="in_session", to_status="ready_to_bill",
            user_id=actor.user_id, at=now, note=event,
        )
    )
    return charges


def _viewable(session: Session, actor: Actor, note_id: int, *, lock: bool = False) -> Note:
    """A note the actor may read: their own, or one of a clinician they supervise."""
    query = select(Note).where(Note.id == note_id)
    if lock:
        query = query.with_for_update()
    note = session.exec(query).first()
    if note is None:
        raise NotFound("That note no longer exists.")
    if actor.provider_id is None or (
        note.provider_id != actor.provider_id and supervisor_of(session, provider_id=note.provider_id) != actor.provider_id
    ):
        raise NotAllowed("This note belongs to another clinician.")
    return note


def own_or_supervised(session: Session, *, actor: Actor, note_id: int, lock: bool = False) -> Note:
    """A note that is the actor's own or one of a clinician they supervise (no audit row: the
    caller records what it does with it)."""
    return _viewable(session, actor, note_id, lock=lock)


def read_note(session: Session, *, actor: Actor, note_id: int) -> Note:
    """A note by id that the actor may read: their own, or one of a clinician they
    supervise (to review and co-sign). Audited as a view."""
    for_write(session)
    require(actor.role, "chart.view")
    note = _viewable(session, actor, note_id)
    audit.record(session, actor=actor, action="view", entity="note", entity_id=note.id, patient_id=note.patient_id)
    session.flush()
    return note


def cosign_note(session: Session, *, actor: Actor, note_id: int, now: dt.datetime | None = None) -> list[Charge]:
    """The supervisor's co-signature: recorded, and the visit becomes ready to bill with its charges."""
    for_write(session)
    require(actor.role, "note.cosign")
    now = now or utcnow()
    note = _viewable(session, actor, note_id, lock=True)
    if supervisor_of(session, provider_id=note.provider_id) != actor.provider_id:
        raise NotAllowed("Only the supervising clinician can co-sign this note.")
    if note.signed_at is None:
        raise InvalidInput("The note must be signed by its author before it can be co-signed.")
    if session.exec(select(NoteCosignature).where(NoteCosignature.note_id == note.id)).first() is not None:
        raise NoteAlreadySigned("This note is already co-signed; its charges were captured then.")
    appointment = session.get(Appointment, note.appointment_id)
    if appointment.status != "in_session":
        # Signed before its author was supervised: it went to billing then.
        raise IllegalTransition(f"This visit is already {STATUS_LABELS[appointment.status]}; it needs no co-signature.")
    try:
        with session.begin_nested():  # a clash undoes this part only
            session.add(NoteCosignature(note_id=note.id, user_id=actor.user_id, signed_at=now))
    except IntegrityError as exc:
        raise (from_db_error(exc) or NoteAlreadySigned("This note was co-signed a moment ago on another device.")) from exc
    charges = _make_billable(
        session, actor=actor, note=note, appointment=appointment, now=now, event="note co-signed"
    )
    audit.record(
        session, actor=actor, action="cosign", entity="note", entity_id=note.id, patient_id=note.patient_id,
        detail=f"{len(charges)} charge lines",
    )
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise (from_db_error(exc) or NoteAlreadySigned("This note was co-signed a moment ago on another device.")) from exc
    session.refresh(appointment)
    publish_change(session, appointment)
    return charges


def awaiting_cosignature(session: Session, *, actor: Actor) -> list[dict]:
    """Signed notes of the clinicians the actor supervises that still need their co-signature."""
    require(actor.role, "chart.view")
    if actor.provider_id is None:
        return []
    rows = session.exec(
        select(Note, Patient, Provider)
        .join(ClinicianSupervision, ClinicianSupervision.provider_id == Note.provider_id)
        .join(Patient, Patient.id == Note.patient_id)
        .join(Provider, Provider.id == Note.provider_id)
        .join(Appointment, Appointment.id == Note.appointment_id)
        .outerjoin(NoteCosignature, NoteCosignature.note_id == Note.id)
        .where(
            ClinicianSupervision.supervisor_provider_id == actor.provider_id,
            Note.signed_at.is_not(None),
            NoteCosignature.id.is_(None),
            Appointment.status == "in_session",
        )
        .order_by(Note.signed_at)
    ).all()
    return [
        {"note_id": n.id, "patient_name": f"{p.last_name}, {p.first_name}", "author": prov.name, "signed_at": n.signed_at}
        for n, p, prov in rows
    ]


def signatures(session: Session, *, note: Note) -> dict:
    """Who signed and co-signed a note and when; whether a co-signature is still due
    (a signed note of a supervised clinician whose visit is not yet billable)."""
    signer = session.get(User, note.signed_by_user_id) if note.signed_by_user_id else None
    cosig = session.exec(select(NoteCosignature).where(NoteCosignature.note_id == note.id)).first()
    cosigner = session.get(User, cosig.user_id) if cosig else None
    supervisor_id = supervisor_of(session, provider_id=note.provider_id)
    supervisor = session.get(Provider, supervisor_id) if supervisor_id else None
    status = session.get(Appointment, note.appointment_id).status
    return {
        "signed_at": note.signed_at,
        "signed_by": signer.full_name if signer else "",
        "cosigned_at": cosig.signed_at if cosig else None,
        "cosigned_by": cosigner.full_name if cosigner else "",
        "needs_cosignature": supervisor is not None and cosig is None and status == "in_session",
        "supervisor": supervisor.name if supervisor else "",
    }


MAX_ADDENDUM = 5_000


def add_addendum(session: Session, *, actor: Actor, note_id: int, text: str, now: dt.datetime | None = None) -> NoteAddendum:
    """Add a dated addendum to a signed note; the original stays as it was."""
    for_write(session)
    require(actor.role, "note.addendum")
    text = (text or "").strip()
    if not text:
        raise InvalidInput("Write the addendum first; an empty addendum is not added.")
    if len(text) > MAX_ADDENDUM:
        raise InvalidInput(f"The addendum is over {MAX_ADDENDUM:,} characters; shorten it or add two.")
    note = _viewable(session, actor, note_id)
    if note.signed_at is None:
        raise InvalidInput("This note is still a draft: change the note itself instead of adding an addendum.")
    row = NoteAddendum(note_id=note.id, author_user_id=actor.user_id, text=text, created_at=now or utcnow())
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="addendum", entity="note", entity_id=note.id, patient_id=note.patient_id)
    commit_note(session)
    return row


def addenda(session: Session, *, note_id: int) -> list[dict]:
    """A note's addenda, oldest first, with their authors."""
    rows = session.exec(
        select(NoteAddendum, User).join(User, User.id == NoteAddendum.author_user_id)
        .where(NoteAddendum.note_id == note_id).order_by(NoteAddendum.created_at, NoteAddendum.id)
    ).all()
    return [{"id": a.id, "text": a.text, "author": u.full_name, "created_at": a.created_at} for a, u in rows]


def signed_label(note: Note, tz: str) -> str:
    """'Signed 14:05' in the location's time, or ''."""
    return f"Signed {hhmm(note.signed_at, tz)}" if note.signed_at else ""


# -- a procedure line's minutes (the screen's unsaved edits in one go: pending.save_pending) --
def minutes_of(value: str, code: str) -> int | None:
    """A procedure line's minutes as typed, checked (blank: none)."""
    return _whole(value, low=1, high=MAX_MINUTES, what=f"Minutes of {code}")


def set_minutes(session: Session, *, actor: Actor, note_id: int, code: str, minutes: int | str | None) -> NoteProcedure:
    """Change the minutes of a procedure line of a draft (its units stay as entered; a
    disagreement with the minutes shows as a warning and stops the signature)."""
    value = minutes_of("" if minutes is None else str(minutes), code)
    note = _draft(session, actor, note_id, lock=True)
    line = session.exec(select(NoteProcedure).where(NoteProcedure.note_id == note.id, NoteProcedure.code == code)).first()
    if line is None:
        raise InvalidInput(f"{code[:8]} is no longer on this note; reopen it.")
    if line.minutes != value:
        line.minutes = value
        session.add(line)
        commit_note(session)
    return line


# -- the clinician's open notes -----------------------------------------------------------
OPEN_STATUSES = ("arrived", "in_session")


def age_words(days: int) -> str:
    """How old an open note is, in words."""
    return "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days old"


def _open_row(*, appointment_id: int, note_id: int, patient: str, provider: str, starts_at: dt.datetime, tz: str,
              status: str, kind: str, now: dt.datetime) -> dict:
    day = local_day(starts_at, tz)
    age = (local_day(now, tz) - day).days
    when = f"{day.isoformat()} {hhmm(starts_at, tz)}"
    verb = "Review and co-sign" if kind == "cosign" else "Open note"
    by = f", by {provider}" if kind == "cosign" else ""
    return {
        "appointment_id": appointment_id, "note_id": note_id, "patient_name": patient, "provider_name": provider,
        "day": day.isoformat(), "start_label": hhmm(starts_at, tz), "when": when, "status": status,
        "status_label": STATUS_LABELS[status], "kind": kind, "age_days": age, "age_label": age_words(age),
        "label": f"{verb}: {patient}{by}, {when}, {age_words(age)}",
    }


def open_notes(
    session: Session, *, actor: Actor, day: dt.date | None = None, now: dt.datetime | None = None
) -> list[dict]:
    """Every visit of the actor's whose note is not signed yet, whatever its date (checked
    in or in session, the note started or not), and every signed note of a clinician they
    supervise that awaits their co-signature: oldest first, each with its age. ``day``
    keeps those of one date (the location's)."""
    require(actor.role, "chart.view")
    if actor.provider_id is None:
        return []
    now = now or utcnow()

    def visits(kind: str, query) -> list[dict]:
        query = (query.join(Patient, Patient.id == Appointment.patient_id)
                 .join(Location, Location.id == Appointment.location_id)
                 .join(Provider, Provider.id == Appointment.provider_id))
        return [
            _open_row(appointment_id=r.id, note_id=r.note_id or 0, patient=f"{r.last_name}, {r.first_name}",
                      provider=r.name, starts_at=r.starts_at, tz=r.timezone, status=r.status, kind=kind, now=now)
            for r in session.exec(query).all()
        ]

    columns = select(Appointment.id, Appointment.starts_at, Appointment.status, Patient.first_name, Patient.last_name,
                     Location.timezone, Note.id.label("note_id"), Provider.name)
    rows = visits("sign", columns.outerjoin(Note, Note.appointment_id == Appointment.id).where(
        Appointment.provider_id == actor.provider_id, Appointment.status.in_(OPEN_STATUSES), Note.signed_at.is_(None)))
    rows += visits("cosign", columns.join(Note, Note.appointment_id == Appointment.id)
                   .join(ClinicianSupervision, ClinicianSupervision.provider_id == Note.provider_id)
                   .outerjoin(NoteCosignature, NoteCosignature.note_id == Note.id)
                   .where(ClinicianSupervision.supervisor_provider_id == actor.provider_id, Note.signed_at.is_not(None),
                          NoteCosignature.id.is_(None), Appointment.status == "in_session"))
    if day is not None:
        rows = [r for r in rows if r["day"] == day.isoformat()]
    rows.sort(key=lambda r: (r["day"], r["start_label"], r["appointment_id"]))
    return rows


def supervisees(session: Session, *, provider_id: int | None) -> list[int]:
    """The providers whose notes ``provider_id`` co-signs."""
    if not provider_id:
        return []
    return list(session.exec(
        select(ClinicianSupervision.provider_id).where(ClinicianSupervision.supervisor_provider_id == provider_id)
    ))


def chart_card(session: Session, *, appointment_id: int, now: dt.datetime | None = None,
               card: dict | None = None) -> dict:
    """A visit as the clinicians' charts show it, for pushing a change: its day-list card
    (``card``, the visit's board card when the caller has it already) and, under "open", its
    open-notes row (None when its note needs nobody's signature now)."""

    row = dict(card) if card is not None else board.card(session, appointment_id=appointment_id)
    appointment = session.get(Appointment, appointment_id)
    note = session.exec(select(Note).where(Note.appointment_id == appointment_id)).first()
    tz = session.get(Location, appointment.location_id).timezone
    provider = session.get(Provider, appointment.provider_id)
    common = {"appointment_id": appointment.id, "patient": row["patient_name"], "provider": provider.name,
              "starts_at": appointment.starts_at, "tz": tz, "status": appointment.status, "now": now or utcnow()}
    row["supervisor_id"] = supervisor_of(session, provider_id=appointment.provider_id) or 0
    row["open"] = None
    if appointment.status in OPEN_STATUSES and (note is None or note.signed_at is None):
        row["open"] = _open_row(note_id=note.id if note else 0, kind="sign", **common)
    elif (note is not None and note.signed_at is not None and appointment.status == "in_session" and row["supervisor_id"]
          and session.exec(select(NoteCosignature).where(NoteCosignature.note_id == note.id)).first() is None):
        row["open"] = _open_row(note_id=note.id, kind="cosign", **common)
    return row
