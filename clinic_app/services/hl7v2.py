"""HL7 v2 ingest for legacy feeds: ADT^A04/A08 (register/update a patient) and SIU^S12
(a new appointment), each answered with an ACK.

MSA-1 is AA when the message was applied, AE (with the reason in MSA-3 and ERR) when
the clinic's rules refused it (nothing is saved then), AR when the message is not one
this interface takes or cannot be parsed. The feed acts as a named staff account, so
the same role rules and audit log apply as at the front desk.

Fields read (HL7 v2.5): PID-3.1 MRN, PID-5 family^given, PID-7 birth date, PID-13.1
phone, PID-13.4 e-mail; SCH-11.4 or AIS-4 start; AIS-3 visit type (text or id);
AIP-3.1 the provider's NPI (or the clinic's provider id); AIL-3.1 the room's name.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import hl7
from sqlalchemy import func
from sqlmodel import Session, select

from clinic_app.db import utcnow
from clinic_app.models import AppointmentType, Location, Patient, Provider, Room, User
from clinic_app.services import fhir, scheduling
from clinic_app.services.actor import Actor
from clinic_app.services.errors import ClinicError, InvalidInput, NotAllowed

SUPPORTED = {("ADT", "A04"), ("ADT", "A08"), ("SIU", "S12")}


class Rejected(Exception):
    """The message is not one this interface takes (ACK AR)."""


def split_messages(text: str) -> list[str]:
    """The messages in a file or stream: each starts with MSH; any line ending is accepted."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    parts, current = [], []
    for segment in text.split("\r"):
        if segment.startswith("MSH") and current:
            parts.append("\r".join(current))
            current = []
        if segment.strip():
            current.append(segment)
    if current:
        parts.append("\r".join(current))
    return parts


def _field(message, segment: str, field: int, component: int = 1, repeat: int = 1) -> str:
    try:
        return str(message.extract_field(segment, 1, field, repeat, component) or "").strip()
    except (KeyError, IndexError):
        return ""


def _escape(text: str) -> str:
    return (text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
            .replace("&", "\\T\\").replace("~", "\\R\\").replace("\r", " ").replace("\n", " "))


def ack(message_text: str, code: str, reason: str = "", now: dt.datetime | None = None) -> str:
    """An ACK for ``message_text`` (its control id echoed in MSA-2)."""
    try:
        parsed = hl7.parse(message_text)
        head = [_field(parsed, "MSH", n) for n in (3, 4, 5, 6)]
        trigger, control, version = _field(parsed, "MSH", 9, 2), _field(parsed, "MSH", 10), _field(parsed, "MSH", 12) or "2.5"
    except Exception:  # an unparseable message still gets an answer
        head, trigger, control, version = ["", "", "", ""], "", "", "2.5"
    stamp = (now or utcnow()).strftime("%Y%m%d%H%M%S+0000")
    segments = [
        f"MSH|^~\\&|{head[2]}|{head[3]}|{head[0]}|{head[1]}|{stamp}||ACK^{trigger}^ACK|ACK{control[:16]}|P|{version}",
        f"MSA|{code}|{control}" + (f"|{_escape(reason)[:200]}" if reason else ""),
    ]
    if code != "AA":
        segments.append(f"ERR|||{'207^Application internal error' if code == 'AE' else '200^Unsupported message type'}^HL70357|E||||{_escape(reason)[:200]}")
    return "\r".join(segments) + "\r"


def _actor(session: Session, username: str) -> Actor:
    user = session.exec(select(User).where(User.username == (username or "").strip().lower())).first()
    if user is None or not user.active:
        raise NotAllowed(f"The interface account {username!r} does not exist or is inactive.")
    from clinic_app.services.auth import actor_for

    return actor_for(user, "hl7")


def _patient_fhir(message, existing: Patient | None = None) -> dict:
    """The PID segment as a FHIR Patient; fields the message leaves empty keep their value."""
    mrn = _field(message, "PID", 3)
    family, given = _field(message, "PID", 5, 1), _field(message, "PID", 5, 2)
    born, phone, email = _field(message, "PID", 7), _field(message, "PID", 13, 1), _field(message, "PID", 13, 4)
    if not mrn:
        raise InvalidInput("PID-3 (the patient's MRN) is empty.")
    if born:
        if len(born) < 8 or not re.match(r"^[0-9]{8}", born):
            raise InvalidInput(f"PID-7 {born[:20]!r} is not a birth date (YYYYMMDD).")
        born = f"{born[:4]}-{born[4:6]}-{born[6:8]}"
    resource = fhir.patient_resource(existing) if existing else {"resourceType": "Patient"}
    resource["identifier"] = [{"system": fhir.MRN_SYSTEM, "value": mrn}]
    name = (resource.get("name") or [{}])[0]
    resource["name"] = [{"family": family or name.get("family", ""), "given": [given or (name.get("given") or [""])[0]]}]
    if born or "birthDate" not in resource:
        resource["birthDate"] = born
    telecom = {t["system"]: t["value"] for t in resource.get("telecom", [])}
    telecom.update({k: v for k, v in (("phone", phone), ("email", email)) if v})
    resource["telecom"] = [{"system": k, "value": v} for k, v in telecom.items()]
    return resource


def _by_mrn(session: Session, mrn: str) -> Patient | None:
    return session.exec(select(Patient).where(Patient.mrn == mrn)).first()


def _register(session: Session, actor: Actor, message) -> str:
    mrn = _field(message, "PID", 3)
    if mrn and _by_mrn(session, mrn) is not None:
        raise InvalidInput(f"A patient with MRN {mrn} is already registered; send ADT^A08 to update.")
    patient = fhir.create_patient(session, actor=actor, resource=_patient_fhir(message), source="hl7")
    return f"Registered patient {patient.mrn}."


def _update(session: Session, actor: Actor, message) -> str:
    mrn = _field(message, "PID", 3)
    patient = _by_mrn(session, mrn)
    if patient is None:
        raise InvalidInput(f"No patient has MRN {mrn[:20]}; send ADT^A04 to register.")
    fhir.update_patient(session, actor=actor, patient_id=patient.id, resource=_patient_fhir(message, patient), source="hl7")
    return f"Updated patient {patient.mrn}."


def _start(text: str, tz: str) -> dt.datetime:
    if not text or len(text) < 12 or not re.match(r"^[0-9]{12}", text):
        raise InvalidInput("The start time (SCH-11.4 or AIS-4) is missing or not YYYYMMDDHHMM.")
    try:
        moment = hl7.parse_datetime(text)
    except ValueError:
        raise InvalidInput(f"The start time {text[:26]!r} is not an HL7 date and time.") from None
    if moment.tzinfo is None:  # no offset: the clinic location's wall-clock time
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment.astimezone(dt.UTC)


def _book(session: Session, actor: Actor, message, now: dt.datetime | None) -> str:
    mrn = _field(message, "PID", 3)
    patient = _by_mrn(session, mrn)
    if patient is None:
        raise InvalidInput(f"No patient has MRN {mrn[:20] or '(empty)'}; register them (ADT^A04) first.")
    who = _field(message, "AIP", 3)
    provider = None
    if re.fullmatch(r"[0-9]{10}", who):
        provider = session.exec(select(Provider).where(Provider.npi == who, Provider.active)).first()
    elif re.fullmatch(r"[0-9]{1,9}", who):
        provider = session.get(Provider, int(who))
    if provider is None:
        raise InvalidInput(f"AIP-3 {who[:20] or '(empty)'!r} names no provider of the clinic (give the NPI).")
    kind_text = _field(message, "AIS", 3, 2) or _field(message, "AIS", 3, 1)
    kind = session.exec(
        select(AppointmentType).where(func.lower(AppointmentType.name) == kind_text.lower(), AppointmentType.active)
    ).first()
    if kind is None:
        raise InvalidInput(f"AIS-3 {kind_text[:40]!r} is not one of the clinic's visit types.")
    location = session.get(Location, provider.location_id)
    starts_at = _start(_field(message, "AIS", 4) or _field(message, "SCH", 11, 4), location.timezone)
    room_id = None
    room_name = _field(message, "AIL", 3)
    if room_name:
        room = session.exec(select(Room).where(Room.location_id == location.id, func.lower(Room.name) == room_name.lower())).first()
        if room is None:
            raise InvalidInput(f"AIL-3 {room_name[:40]!r} is not a room at {location.name}.")
        room_id = room.id
    appointment = scheduling.book_appointment(
        session, actor=actor, patient_id=patient.id, provider_id=provider.id, appointment_type_id=kind.id,
        starts_at=starts_at, room_id=room_id, now=now,
    )
    return f"Booked appointment {appointment.id}."


def ingest(session: Session, *, username: str, message: str, now: dt.datetime | None = None) -> str:
    """Apply one HL7 v2 message; the ACK to send back. Nothing is saved unless it is AA."""
    text = "\r".join(s for s in message.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s.strip())
    try:
        try:
            parsed = hl7.parse(text)
            kind = (_field(parsed, "MSH", 9, 1), _field(parsed, "MSH", 9, 2))
        except Exception as exc:
            raise Rejected("The message cannot be parsed as HL7 v2 (it must start with MSH).") from exc
        if kind not in SUPPORTED:
            raise Rejected(f"{'^'.join(kind)[:20]} is not taken here; send ADT^A04, ADT^A08 or SIU^S12.")
        actor = _actor(session, username)
        if kind == ("ADT", "A04"):
            done = _register(session, actor, parsed)
        elif kind == ("ADT", "A08"):
            done = _update(session, actor, parsed)
        else:
            done = _book(session, actor, parsed, now)
        return ack(text, "AA", done)
    except Rejected as exc:
        session.rollback()
        return ack(text, "AR", str(exc))
    except ClinicError as exc:
        session.rollback()
        return ack(text, "AE", str(exc))



class BatchRefused(ClinicError):
    """A message of a batch was not accepted, so none of the batch was applied; ``acks`` holds
    one ACK per message (the refused one's own, and AR "not applied" for the others)."""

    def __init__(self, acks: list[str], refused: int) -> None:
        self.acks = acks
        super().__init__(f"Message {refused} of {len(acks)} was refused; nothing of this batch was saved.")


def ingest_batch(session: Session, *, username: str, messages: list[str], now: dt.datetime | None = None) -> list[str]:
    """Apply a batch (a file) of messages all or nothing, in the caller's one transaction
    (db.one_transaction): the ACKs when every message was applied (AA); otherwise
    BatchRefused, and the caller's rollback leaves nothing of the batch behind."""
    acks = [ingest(session, username=username, message=message, now=now) for message in messages]
    refused = next((n for n, text in enumerate(acks, start=1) if "MSA|AA|" not in text), None)
    if refused is None:
        return acks
    reason = f"Not applied: message {refused} of this batch was refused, so nothing of the batch was saved."
    answered = [text if n == refused or "MSA|AA|" not in text else ack(messages[n - 1], "AR", reason)
                   for n, text in enumerate(acks, start=1)]
    raise BatchRefused(answered, refused)
