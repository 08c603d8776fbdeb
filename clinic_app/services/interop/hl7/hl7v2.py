"""HL7 v2 ingest for legacy feeds: ADT^A04/A08 (register/update a patient) and SIU^S12
(a new appointment), each answered with an ACK in original mode (HL7 v2.5 chapter 2,
"Original mode acknowledgment rules").

MSA-1 is AA when the message was applied; AE when it was read but a rule refused it (nothing
is saved then); AR when it is not a message this interface takes or cannot be read: a type
other than ADT^A04/A08 and SIU^S12 (ORU^R01 results among them), an empty or wrong MSH-2, a
version other than 2.1-2.9, two messages in one MLLP frame. The feed acts as a named staff
account, so the same role rules and audit log apply as at the front desk.

The ACK echoes MSH-10 in MSA-2 and MSH-11 (processing id) in its own MSH-11, and is laid out
in the message's version: from v2.5 the ERR segment carries ERR-2 (where), ERR-3 (HL7 table
0357: 101 required field missing, 102 data type error, 103 table value not found, 204 unknown
key, 205 duplicate key, 200/201 unsupported message type/event, 203 unsupported version, 207
application internal error), ERR-4 severity and ERR-5 (the clinic's table 0533, ``RULE``: a
rule of the clinic refused it, ``APP``: an application error, ``MSG``: not a message taken
here); before v2.5 the same in ERR-1 (ELD) and MSA-6.

Fields read: PID-3 the MRN (the repetition whose CX-5 is MR; a single untyped identifier is
taken as the MRN), PID-5 family^given, PID-7 birth date, PID-8 sex, PID-11 address, PID-13.1
phone, PID-13.4 e-mail; SCH-11.4 or AIS-4 start; AIS-3 visit type (text or id); AIP-3.1 the
provider's NPI (or the clinic's provider id); AIL-3.1 the room's name. In an update (A08) an
empty field keeps its value and ``""`` deletes it (HL7 v2.5 2.5.3 "Null values").
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import hl7
from sqlalchemy import func
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import AppointmentType, Location, Patient, Provider, Room, User
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.interop.fhir import mapping as fhir_map
from clinic_app.services.interop.fhir import write as fhir_write
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.auth import actor_for
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotAllowed

log = logging.getLogger(__name__)
SUPPORTED = {("ADT", "A04"), ("ADT", "A08"), ("SIU", "S12")}
VERSIONS = ("2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2", "2.9")
DELETE = '""'  # HL7 null: "delete the value held"
# Table 0357 (message error condition codes) words.
HL7_ERRORS = {
    "101": "Required field missing", "102": "Data type error", "103": "Table value not found",
    "200": "Unsupported message type", "201": "Unsupported event code", "203": "Unsupported version id",
    "204": "Unknown key identifier", "205": "Duplicate key identifier", "207": "Application internal error",
}
# The clinic's table 0533 (application error codes, user-defined): why an AE/AR was sent.
APP_ERRORS = {"RULE": "Refused by a clinic rule", "APP": "Application error", "MSG": "Not a message this interface takes"}
SEXES = {"F": "female", "M": "male", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}
EARLIEST, LATEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC), dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
TS_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2}(?:\.\d{1,4})?)?([+-]\d{4})?$")


@dataclass(eq=False)
class Problem(Exception):
    """Why a message is answered AE or AR: the words, where (segment, field), the 0357 and 0533 codes."""

    reason: str
    segment: str = ""
    field: int = 0
    code: str = "207"
    app: str = "RULE"

    def __str__(self) -> str:
        return self.reason


class Rejected(Problem):
    """The message is not one this interface takes (ACK AR)."""

    def __init__(self, reason: str, segment: str = "MSH", field: int = 9, code: str = "200"):
        super().__init__(reason, segment, field, code, "MSG")


class Refused(Problem, InvalidInput):
    """A field of the message stops it being applied (ACK AE, nothing saved)."""


# -- reading messages -------------------------------------------------------------------------------------
def split_messages(text: str) -> list[str]:
    """The messages in a file or stream: each starts with MSH; any line ending is accepted.
    Batch envelopes (FHS, BHS, BTS, FTS) are not messages: see ``read_batch``."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    parts, current = [], []
    for segment in text.split("\r"):
        if segment[:3] in ("FHS", "BHS", "BTS", "FTS"):
            continue
        if segment.startswith("MSH") and current:
            parts.append("\r".join(current))
            current = []
        if segment.strip():
            current.append(segment)
    if current:
        parts.append("\r".join(current))
    return parts


def read_batch(text: str) -> list[str]:
    """The messages of a file: plain messages one after the other, or an HL7 batch (FHS/BHS ... BTS/FTS,
    v2.5 2.10.3). A batch whose trailer counts another number of messages (BTS-1) or batches (FTS-1)
    than it holds is refused whole (InvalidInput): nothing of it is read."""
    lines = [s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s.strip()]
    heads = [s[:3] for s in lines]
    if not any(h in ("FHS", "BHS", "BTS", "FTS") for h in heads):
        return split_messages(text)
    batches, in_batch, count = 0, False, 0
    for line in lines:
        kind = line[:3]
        sep = line[3:4] or "|"
        if kind == "BHS":
            if in_batch:
                raise InvalidInput("A batch (BHS) starts before the previous one ends (BTS); nothing was read.")
            in_batch, count, batches = True, 0, batches + 1
        elif kind == "MSH":
            count += 1
        elif kind == "BTS":
            stated = ([*line.split(sep), ""])[1].strip()
            if stated and (not stated.isdigit() or int(stated) != count):
                raise InvalidInput(f"The batch says it holds {stated[:10]} messages (BTS-1) but holds {count}; "
                                   "the file may be truncated. Nothing was read.")
            in_batch = False
        elif kind == "FTS":
            stated = ([*line.split(sep), ""])[1].strip()
            if stated and (not stated.isdigit() or int(stated) != batches):
                raise InvalidInput(f"The file says it holds {stated[:10]} batches (FTS-1) but holds {batches}. Nothing was read.")
    if in_batch:
        raise InvalidInput("The batch has no trailer (BTS): the file may be truncated. Nothing was read.")
    return split_messages(text)


def _msh(text: str) -> tuple[list[str], str, str]:
    """(MSH fields, field separator, encoding characters) of a message; MSH-n is fields[n - 1]."""
    first = text.split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 4:
        return [], "|", ""
    sep = first[3]
    fields = first.split(sep)
    return fields, sep, fields[1] if len(fields) > 1 else ""


def _msh_field(fields: list[str], n: int, component: int = 1, comp_sep: str = "^") -> str:
    value = fields[n - 1] if len(fields) >= n else ""
    return (value.split(comp_sep) + [""] * component)[component - 1].strip()


def _check_encoding(sep: str, encoding: str) -> None:
    """MSH-1 and MSH-2 (v2.5 2.14.9.2): four (five from v2.7) distinct, non-alphanumeric delimiters."""
    if sep.isalnum() or sep.isspace():
        raise Rejected(f"MSH-1 {sep!r} is not a field separator; the message cannot be read.", "MSH", 1, "102")
    if not encoding:
        raise Rejected("MSH-2 (the encoding characters, normally ^~\\&) is empty; the message cannot be read.", "MSH", 2, "101")
    if (len(encoding) not in (4, 5) or len(set(encoding + sep)) != len(encoding) + 1
            or any(c.isalnum() or c.isspace() for c in encoding)):
        raise Rejected(f"MSH-2 {encoding[:10]!r} is not four distinct delimiters such as ^~\\&; the message cannot be read.",
                       "MSH", 2, "102")


def _field(message, segment: str, field: int, component: int = 1, repeat: int = 1) -> str:
    try:
        return str(message.extract_field(segment, 1, field, repeat, component) or "").strip()
    except (KeyError, IndexError):
        return ""


def _repetitions(message, segment: str, field: int) -> list[tuple[str, str]]:
    """(CX-1, CX-5) of each repetition of an identifier field such as PID-3."""
    found = []
    for repeat in range(1, 50):
        try:
            value = str(message.extract_field(segment, 1, field, repeat, 1) or "").strip()
        except (KeyError, IndexError):
            break
        found.append((value, _field(message, segment, field, 5, repeat)))
    return found


def _escape(text: str) -> str:
    return (text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
            .replace("&", "\\T\\").replace("~", "\\R\\").replace("\r", " ").replace("\n", " "))


# -- the ACK -----------------------------------------------------------------------------------------------
def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split(".") if x.isdigit()) or (2, 5)


def ack(message_text: str, code: str, reason: str = "", now: dt.datetime | None = None, problem: Problem | None = None) -> str:
    """An ACK for ``message_text``, in its version's layout: MSA-2 its control id, MSH-11 its processing id."""
    fields, _sep, encoding = _msh(message_text)
    comp = encoding[0] if len(encoding) >= 4 and not encoding[0].isalnum() else "^"
    head = [_msh_field(fields, n, 1, comp) for n in (3, 4, 5, 6)]
    trigger = _msh_field(fields, 9, 2, comp)
    control = _msh_field(fields, 10, 1, comp)
    processing = _msh_field(fields, 11, 1, comp) or "P"
    version = _msh_field(fields, 12, 1, comp)
    if version not in VERSIONS:
        version = "2.5"  # an unknown version is answered in 2.5 (the refusal says why)
    key = _version_key(version)
    stamp = (now or utcnow()).strftime("%Y%m%d%H%M%S+0000")
    kind = "ACK" if key < (2, 2) else f"ACK^{_escape(trigger)}" if key < (2, 3, 1) else f"ACK^{_escape(trigger)}^ACK"
    msh = (f"MSH|^~\\&|{_escape(head[2])}|{_escape(head[3])}|{_escape(head[0])}|{_escape(head[1])}|{stamp}||{kind}|"
           f"ACK{_escape(control)[:16]}|{_escape(processing)[:3]}|{version}")
    text = _escape(reason)[:200]
    msa = ["MSA", code, _escape(control)]
    if key < (2, 7):
        msa.append(text)  # MSA-3 text message (withdrawn in v2.7: the words go in ERR-8)
    segments = [msh]
    if code == "AA":
        segments.append("|".join(msa).rstrip("|"))
        return "\r".join(segments) + "\r"
    problem = problem or Problem(reason)
    hl7_code = f"{problem.code}^{HL7_ERRORS.get(problem.code, '')}^HL70357"
    where = f"{problem.segment}^1^{problem.field}" if problem.segment and problem.field else ""
    if key < (2, 5):
        msa += ["", "", hl7_code]  # MSA-6 error condition
        segments.append("|".join(msa))
        # ERR-1 (ELD): segment^sequence^field^code&text&table
        segments.append(f"ERR|{problem.segment}^1^{problem.field}^{problem.code}&{HL7_ERRORS.get(problem.code, '')}&HL70357"
                        if where else f"ERR|^^^{problem.code}&{HL7_ERRORS.get(problem.code, '')}&HL70357")
    else:
        segments.append("|".join(msa))
        app = f"{problem.app}^{APP_ERRORS[problem.app]}^HL70533"
        segments.append(f"ERR||{where}|{hl7_code}|E|{app}|||{text}")
    return "\r".join(segments) + "\r"


def _actor(session: Session, username: str) -> Actor:
    user = session.exec(select(User).where(User.username == (username or "").strip().lower())).first()
    if user is None or not user.active:
        raise NotAllowed(f"The interface account {username!r} does not exist or is inactive.")

    return actor_for(user, "hl7")


# -- patients ------------------------------------------------------------------------------------------------
def _mrn(message) -> str:
    """The MRN: the PID-3 repetition whose CX-5 (identifier type) is MR; one untyped identifier is taken as it."""
    ids = [(value, kind) for value, kind in _repetitions(message, "PID", 3) if value]
    typed = [value for value, kind in ids if kind.upper() == "MR"]
    if typed:
        return typed[0]
    if len(ids) == 1 and not ids[0][1]:
        return ids[0][0]
    if ids:
        kinds = ", ".join(sorted({kind or "(none)" for _, kind in ids}))
        raise Refused(f"PID-3 holds no identifier of type MR (CX-5); it has {kinds[:40]}. Send the MRN with CX-5 MR.",
                      "PID", 3, "101")
    raise Refused("PID-3 (the patient's MRN) is empty.", "PID", 3, "101")


def _value(message, segment: str, field: int, component: int = 1) -> str | None:
    """A field's value: None when empty (keep what is held), "" for HL7's ``""`` (delete it)."""
    text = _field(message, segment, field, component)
    if text == DELETE:
        return ""
    return text or None


def _patient_fhir(message, existing: Patient | None = None) -> dict:
    """The PID segment as a FHIR Patient; an empty field keeps its value, ``""`` deletes it."""
    mrn = _mrn(message)
    family, given = _value(message, "PID", 5, 1), _value(message, "PID", 5, 2)
    born = _value(message, "PID", 7)
    for value, field, words in ((family, 5, "family name"), (given, 5, "given name"), (born, 7, "birth date")):
        if value == "":
            raise Refused(f"PID-{field} cannot delete the patient's {words} (\"\"); send the right value.", "PID", field, "101")
    if born:
        if not re.match(r"^[0-9]{8}", born):
            raise Refused(f"PID-7 {born[:20]!r} is not a birth date (YYYYMMDD).", "PID", 7, "102")
        born = f"{born[:4]}-{born[4:6]}-{born[6:8]}"
    resource = fhir_map.patient_resource(existing) if existing else {"resourceType": "Patient"}
    resource["identifier"] = [{"system": fhir_map.MRN_SYSTEM, "value": mrn}]
    name = (resource.get("name") or [{}])[0]
    resource["name"] = [{"family": family or name.get("family", ""), "given": [given or (name.get("given") or [""])[0]]}]
    if born or "birthDate" not in resource:
        resource["birthDate"] = born or ""
    sex = _value(message, "PID", 8)
    if sex is not None:
        if sex and sex.upper() not in SEXES:
            raise Refused(f"PID-8 {sex[:5]!r} is not a sex of HL7 table 0001 (F, M, O, U, A, N).", "PID", 8, "103")
        resource["gender"] = SEXES.get(sex.upper(), "unknown") if sex else "unknown"
    address = (resource.get("address") or [{}])[0]
    parts = {"line": (11, 1), "city": (11, 3), "state": (11, 4), "postalCode": (11, 5)}
    for key, (field, component) in parts.items():
        value = _value(message, "PID", field, component)
        if value is not None:
            address[key] = [value] if key == "line" and value else value
    address = {k: v for k, v in address.items() if v}
    resource["address"] = [address] if any(k in address for k in parts) else []
    telecom = {t["system"]: t["value"] for t in resource.get("telecom", [])}
    for system, component in (("phone", 1), ("email", 4)):
        value = _value(message, "PID", 13, component)
        if value == "":
            telecom.pop(system, None)
        elif value:
            telecom[system] = value
    resource["telecom"] = [{"system": k, "value": v} for k, v in telecom.items()]
    return resource


def _by_mrn(session: Session, mrn: str) -> Patient | None:
    return session.exec(select(Patient).where(Patient.mrn == mrn)).first()


def _register(session: Session, actor: Actor, message) -> str:
    mrn = _mrn(message)
    if _by_mrn(session, mrn) is not None:
        raise Refused(f"A patient with MRN {mrn} is already registered; send ADT^A08 to update.", "PID", 3, "205")
    patient = fhir_write.create_patient(session, actor=actor, resource=_patient_fhir(message), source="hl7", validate=False)
    return f"Registered patient {patient.mrn}."


def _update(session: Session, actor: Actor, message) -> str:
    mrn = _mrn(message)
    patient = _by_mrn(session, mrn)
    if patient is None:
        raise Refused(f"No patient has MRN {mrn[:20]}; send ADT^A04 to register.", "PID", 3, "204")
    fhir_write.update_patient(session, actor=actor, patient_id=patient.id, resource=_patient_fhir(message, patient), source="hl7",
                        validate=False)
    return f"Updated patient {patient.mrn}."


# -- appointments ------------------------------------------------------------------------------------------
def parse_ts(text: str, tz: str, where: tuple[str, int]) -> dt.datetime:
    """An HL7 TS (YYYYMMDDHHMM[SS[.S]][+/-ZZZZ]) as UTC; without an offset, wall-clock time at ``tz``.

    Refused (never an OverflowError) outside 1900-2199 or with an offset past +/-14:00."""
    found = TS_RE.match(text or "")
    if not found:
        raise Refused(f"The start time {text[:26]!r} is missing or not YYYYMMDDHHMM[SS][+/-ZZZZ].", where[0], where[1], "102")
    year, month, day, hour, minute = (int(found[i]) for i in range(1, 6))
    seconds = float(found[6] or 0)
    zone: dt.tzinfo = ZoneInfo(tz)
    if found[7]:
        sign = -1 if found[7][0] == "-" else 1
        hours, minutes = int(found[7][1:3]), int(found[7][3:5])
        if minutes > 59 or hours * 60 + minutes > 14 * 60:
            raise Refused(f"The offset {found[7]} of {text[:26]!r} is not a time zone (at most +/-1400).", where[0], where[1], "102")
        zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    if not 1900 <= year < 2200:
        raise Refused(f"The start time {text[:26]!r} is out of range: the clinic books from 1900 to 2199.", where[0], where[1], "102")
    try:
        moment = dt.datetime(year, month, day, hour, minute, int(seconds), tzinfo=zone)
    except ValueError:
        raise Refused(f"The start time {text[:26]!r} is not a date and time that exists.", where[0], where[1], "102") from None
    utc = moment.astimezone(dt.UTC)
    if not EARLIEST <= utc < LATEST:
        raise Refused(f"The start time {text[:26]!r} is out of range: the clinic books from 1900 to 2199.", where[0], where[1], "102")
    return utc


def _book(session: Session, actor: Actor, message, now: dt.datetime | None) -> str:
    mrn = _mrn(message)
    patient = _by_mrn(session, mrn)
    if patient is None:
        raise Refused(f"No patient has MRN {mrn[:20] or '(empty)'}; register them (ADT^A04) first.", "PID", 3, "204")
    who = _field(message, "AIP", 3)
    provider = None
    if re.fullmatch(r"[0-9]{10}", who):
        provider = session.exec(select(Provider).where(Provider.npi == who, Provider.active)).first()
    elif re.fullmatch(r"[0-9]{1,9}", who):
        provider = session.get(Provider, int(who))
    if provider is None:
        raise Refused(f"AIP-3 {who[:20] or '(empty)'!r} names no provider of the clinic (give the NPI).", "AIP", 3, "204")
    kind_text = _field(message, "AIS", 3, 2) or _field(message, "AIS", 3, 1)
    kind = session.exec(
        select(AppointmentType).where(func.lower(AppointmentType.name) == kind_text.lower(), AppointmentType.active)
    ).first()
    if kind is None:
        raise Refused(f"AIS-3 {kind_text[:40]!r} is not one of the clinic's visit types.", "AIS", 3, "103")
    location = session.get(Location, provider.location_id)
    start_text, where = _field(message, "AIS", 4), ("AIS", 4)
    if not start_text:
        start_text, where = _field(message, "SCH", 11, 4), ("SCH", 11)
    starts_at = parse_ts(start_text, location.timezone, where)
    room_id = None
    room_name = _field(message, "AIL", 3)
    if room_name:
        room = session.exec(select(Room).where(Room.location_id == location.id, func.lower(Room.name) == room_name.lower())).first()
        if room is None:
            raise Refused(f"AIL-3 {room_name[:40]!r} is not a room at {location.name}.", "AIL", 3, "103")
        room_id = room.id
    appointment = scheduling.book_appointment(
        session, actor=actor, patient_id=patient.id, provider_id=provider.id, appointment_type_id=kind.id,
        starts_at=starts_at, room_id=room_id, now=now,
    )
    return f"Booked appointment {appointment.id}."


# -- one message in, one ACK out ----------------------------------------------------------------------------
def _check_message(text: str) -> tuple[str, str]:
    """(type, trigger) of a message this interface can read; Rejected (AR) otherwise."""
    fields, sep, encoding = _msh(text)
    if not fields:
        raise Rejected("The message cannot be read as HL7 v2: it must start with MSH.", "MSH", 1, "100")
    _check_encoding(sep, encoding)
    if len(split_messages(text)) > 1:
        raise Rejected(f"This MLLP frame holds {len(split_messages(text))} messages; send one message per frame. "
                       "None of them was applied.", "MSH", 1, "100")
    comp = encoding[0]
    version = _msh_field(fields, 12, 1, comp)
    if version not in VERSIONS:
        raise Rejected(f"MSH-12 version {version[:10] or '(empty)'!r} is not one this interface reads (2.1 to 2.9).", "MSH", 12, "203")
    kind = (_msh_field(fields, 9, 1, comp), _msh_field(fields, 9, 2, comp))
    if kind not in SUPPORTED:
        known_type = kind[0] in {k for k, _ in SUPPORTED}
        raise Rejected(f"{'^'.join(kind)[:20]} is not taken here; send ADT^A04, ADT^A08 or SIU^S12.", "MSH", 9,
                       "201" if known_type else "200")
    return kind


def ingest(session: Session, *, username: str, message: str, now: dt.datetime | None = None) -> str:
    """Apply one HL7 v2 message; the ACK to send back (always one). Nothing is saved unless it is AA."""
    text = "\r".join(s for s in message.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s.strip())
    for_write(session)
    try:
        with session.begin_nested():  # a message not applied leaves nothing behind
            kind = _check_message(text)
            try:
                parsed = hl7.parse(text)
            except Exception as exc:  # the library's own errors: the text is not HL7 v2
                raise Rejected("The message cannot be parsed as HL7 v2.", "MSH", 1, "100") from exc
            actor = _actor(session, username)
            if kind == ("ADT", "A04"):
                done = _register(session, actor, parsed)
            elif kind == ("ADT", "A08"):
                done = _update(session, actor, parsed)
            else:
                done = _book(session, actor, parsed, now)
        return ack(text, "AA", done, now)
    except Rejected as exc:
        return ack(text, "AR", str(exc), now, exc)
    except Problem as exc:
        return ack(text, "AE", str(exc), now, exc)
    except ClinicError as exc:
        # A rule of the clinic (booking, roles, the patient's data): no 0357 code names it, ERR-5 does.
        return ack(text, "AE", str(exc), now, Problem(str(exc), "", 0, "207", "RULE"))
    except Exception as exc:  # a bug must still be answered: AE, nothing saved, the error logged (no PHI)
        log.error("HL7 message not applied: %s", type(exc).__name__)
        reason = f"The message could not be applied ({type(exc).__name__}); nothing was saved. Tell the clinic's administrator."
        return ack(text, "AE", reason, now, Problem(reason, "", 0, "207", "APP"))


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
