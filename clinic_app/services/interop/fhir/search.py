"""FHIR R4 read and search: each resource type's search parameters and query, the searchset
Bundle, and the CapabilityStatement. Every view of PHI is written to the audit log."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import false, func, or_
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import (
    Appointment,
    AppointmentType,
    Charge,
    Coverage,
    IntakeForm,
    IntakeResponse,
    Location,
    MeasureResult,
    Note,
    NoteDiagnosis,
    NoteProcedure,
    OutcomeMeasure,
    Patient,
    PatientAllergy,
    PatientMedication,
    Payer,
    Provider,
    Room,
)
from clinic_app.services.charting.measures import BUILTIN as BUILTIN_MEASURES
from clinic_app.services.interop.fhir import questionnaires as fhir_q
from clinic_app.services.interop.fhir import tasks as fhir_tasks
from clinic_app.services.interop.fhir.mapping import (
    APPOINTMENT_STATUS,
    DATE_RE,
    DEFAULT_COUNT,
    ENCOUNTER_STATUS,
    FHIR_VERSION,
    HAPPENED,
    ICD10_SYSTEM,
    MAX_COUNT,
    MAX_MOMENT,
    MAX_OFFSET,
    MEASURE_SYSTEM,
    MRN_SYSTEM,
    NPI_SYSTEM,
    PREFIXES,
    allergy_resource,
    appointment_resource,
    claim_resource,
    clinic_name,
    condition_resource,
    coverage_resource,
    document_reference_resource,
    encounter_resource,
    id_of_reference,
    is_row_id,
    location_resource,
    medication_statement_resource,
    observation_resource,
    organization_resource,
    patient_resource,
    plus_step,
    practitioner_resource,
    room_resource,
    to_utc,
)
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.permissions import CLINICIAN, require


# -- search parameters ------------------------------------------------------------------------
def _date_range(value: str) -> tuple[str, dt.datetime, dt.datetime]:
    """(prefix, start, end) of a FHIR date search value, its precision making the range.

    Any instant Python can hold is a valid search value (``le9999-12-31T23:59:59.999999Z``,
    ``0001-01-01T00:00:00+14:00``): a range that runs past Python's limits is held at them.
    """
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    text = value[2:] if value[:2] in PREFIXES else value
    match = DATE_RE.match(text)
    try:
        if match:
            year, month, day = int(match[1]), int(match[3] or 1), int(match[5] or 1)
            start = dt.datetime(year, month, day, tzinfo=dt.UTC)
            if match[5]:
                end = plus_step(start, dt.timedelta(days=1))
            elif match[3]:
                end = plus_step(start, dt.timedelta(days=32)).replace(day=1) if (year, month) != (9999, 12) else MAX_MOMENT
            else:
                end = start.replace(year=year + 1) if year < 9999 else MAX_MOMENT
            return prefix, start, end
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise InvalidInput(f"{value[:40]!r} is not a search date (e.g. 2030-03-12 or ge2030-03-01).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    start = to_utc(moment)
    return prefix, start, plus_step(start, dt.timedelta(seconds=1))


def _date_clause(column, value: str):
    prefix, start, end = _date_range(value)
    return {
        "eq": (column >= start) & (column < end), "ne": (column < start) | (column >= end),
        "gt": column >= end, "sa": column >= end, "ge": column >= start,
        "lt": column < start, "eb": column < start, "le": column < end,
    }[prefix]


def _birthdate_clause(value: str):
    prefix, start, end = _date_range(value)
    start, end = start.date(), end.date()
    column = Patient.birth_date
    return {
        "eq": (column >= start) & (column < end), "ne": (column < start) | (column >= end),
        "gt": column >= end, "sa": column >= end, "ge": column >= start,
        "lt": column < start, "eb": column < start, "le": column < end,
    }[prefix]


def _escaped(text: str) -> str:
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(text: str) -> str:
    return "%" + _escaped(text) + "%"


def split_or(value: str) -> list[str]:
    """The values a search parameter ORs: split at commas, ``\\,`` being a comma inside a value
    (search.html, "Escaping search parameters")."""
    parts, current, chars = [], [], iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            current.append(nxt if nxt in (",", "$", "|", "\\") else ch + nxt)
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _token(value: str) -> tuple[str | None, str]:
    """(system, code) of a token value: ``code`` (any system: None), ``system|code``, ``|code`` (no system: "")."""
    if "|" not in value:
        return None, value.strip()
    system, _, code = value.partition("|")
    return system.strip(), code.strip()


def _string_clause(columns, value: str, modifier: str):
    """FHIR string search over ``columns`` (any of them): starts-with (at the start of any word) by
    default, ``:exact`` the whole value as written, ``:contains`` anywhere; case-insensitive but
    for ``:exact``."""
    if modifier == "exact":
        return or_(*[column == value for column in columns])
    text = value.strip()
    if modifier == "contains":
        return or_(*[func.lower(column).like(_like(text), escape="\\") for column in columns])
    start = _escaped(text) + "%"
    return or_(*[clause for column in columns for clause in (
        func.lower(column).like(start, escape="\\"), func.lower(column).like("% " + start, escape="\\"),
        func.lower(column).like("%-" + start, escape="\\"))])


def _statuses(value: str, mapping: dict[str, str]) -> list[str]:
    code = _token(value)[1]
    return [internal for internal, fhir_code in mapping.items() if fhir_code == code] or ["-"]


def _boolean(name: str, value: str) -> bool:
    code = _token(value)[1]
    if code not in ("true", "false"):
        raise InvalidInput(f"{name} takes true or false, not {value[:20]!r}.")
    return code == "true"


def _reference_clause(column, kind: str):
    return lambda v, m: column == (id_of_reference(v, kind) if id_of_reference(v, kind) is not None else -1)


def _code_clause(column, system: str):
    """A token over a code column whose codes are of ``system`` (upper case, as the clinic keeps them)."""
    def clause(value: str, modifier: str):
        wanted_system, code = _token(value)
        if wanted_system is not None and wanted_system != system:
            return false()  # another system (or none): no match
        return column == code.upper()
    return clause


@dataclass
class _Param:
    """One search parameter: its FHIR type and the clause for one of its (comma-ORed) values."""

    type: str  # string | token | reference | date
    clause: Callable  # (value, modifier) -> SQL condition


def _string(*columns) -> _Param:
    return _Param("string", lambda v, m: _string_clause(columns, v, m))


def _date(column) -> _Param:
    return _Param("date", lambda v, m: _date_clause(column, v))


def _ref_param(column, kind: str) -> _Param:
    return _Param("reference", _reference_clause(column, kind))


def _tok(clause) -> _Param:
    return _Param("token", clause)


MODIFIERS = {"string": ("exact", "contains")}


@dataclass
class _Kind:
    """How one resource type is read and searched."""

    action: str
    params: dict[str, _Param]  # search parameter -> how a value of it matches
    query: Callable  # (actor) -> select of the rows
    build: Callable  # (session, row) -> resource
    patient_of: Callable | None  # (row) -> patient id, for the audit log; None = not PHI
    order: Callable  # () -> order-by column
    id_column: Callable  # () -> the column ``_id`` matches
    updated: Callable | None = None  # (since) -> condition: changed after ``since`` (bulk _since)


def _own_patients(actor: Actor):
    return select(Appointment.patient_id).where(Appointment.provider_id == actor.provider_id)


def _patient_query(actor: Actor):
    query = select(Patient)
    if actor.role == CLINICIAN:  # clinicians see their own patients (minimum necessary)
        query = query.where(Patient.id.in_(_own_patients(actor)))
    return query


def _identifier_clause(value: str, modifier: str = ""):
    """MRN (system urn:clinic-app:mrn); ``|value`` asks for an identifier with no system: none here."""
    system, code = _token(value)
    if system is not None and system != MRN_SYSTEM:
        return Patient.id == -1
    if not code:
        return Patient.id.is_not(None)  # ``system|``: any identifier of that system
    return func.lower(Patient.mrn) == code.lower()


def _npi_clause(value: str, modifier: str = ""):
    system, code = _token(value)
    if system is not None and system != NPI_SYSTEM:
        return Provider.id == -1
    return Provider.npi.is_not(None) if not code else Provider.npi == code


def _visit_query(actor: Actor, statuses=None):
    query = select(Appointment, AppointmentType).join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
    if statuses:
        query = query.where(Appointment.status.in_(statuses))
    if actor.role == CLINICIAN:
        query = query.where(Appointment.provider_id == actor.provider_id)
    return query


def _note_query(actor: Actor):
    query = select(Note).where(Note.signed_at.is_not(None))
    if actor.role == CLINICIAN:
        query = query.where(Note.provider_id == actor.provider_id)
    return query


def _condition_query(actor: Actor):
    query = select(NoteDiagnosis, Note).join(Note, Note.id == NoteDiagnosis.note_id).where(Note.signed_at.is_not(None))
    if actor.role == CLINICIAN:
        query = query.where(Note.provider_id == actor.provider_id)
    return query


def _claim_query(actor: Actor):
    return select(Appointment).where(Appointment.id.in_(select(Charge.appointment_id)))


def measure_name(session: Session, code: str) -> str:
    if code in BUILTIN_MEASURES:
        return BUILTIN_MEASURES[code].name
    row = session.exec(select(OutcomeMeasure).where(OutcomeMeasure.code == code)).first()
    return row.name if row else code


def measure_definition_of(session: Session, code: str) -> dict | None:
    """A clinic-defined measure's definition for an export (built-in ones need none)."""
    if code in BUILTIN_MEASURES:
        return None
    row = session.exec(select(OutcomeMeasure).where(OutcomeMeasure.code == code)).first()
    if row is None:
        return None
    return {"name": row.name, "items": [i for i in row.items.splitlines() if i.strip()], "item_min": row.item_min,
            "item_max": row.item_max, "scoring": row.scoring, "mcid": row.mcid, "higher_is_better": row.higher_is_better}


def _observation_query(actor: Actor):
    query = select(MeasureResult, Note).join(Note, Note.id == MeasureResult.note_id).where(Note.signed_at.is_not(None))
    if actor.role == CLINICIAN:
        query = query.where(MeasureResult.patient_id.in_(_own_patients(actor)))
    return query


def _history_query(model, actor: Actor):
    query = select(model)
    if actor.role == CLINICIAN:
        query = query.where(model.patient_id.in_(_own_patients(actor)))
    return query


def coverage_query(actor: Actor):
    return select(Coverage, Payer).join(Payer, Payer.id == Coverage.payer_id)


def _active_clause(column, value: str, mapping: dict[bool, str]):
    """active/inactive-like tokens (a comma list, each with or without its system) as a flag test."""
    wanted = {v.strip().rpartition("|")[2] for v in value.split(",")}
    flags = [flag for flag, code in mapping.items() if code in wanted]
    return column.in_(flags) if flags else column.is_(None)


def build_document(session: Session, note: Note) -> dict:
    dx = [d.code for d in session.exec(select(NoteDiagnosis).where(NoteDiagnosis.note_id == note.id).order_by(NoteDiagnosis.id))]
    lines = [(p.code, p.units) for p in session.exec(select(NoteProcedure).where(NoteProcedure.note_id == note.id).order_by(NoteProcedure.id))]
    return document_reference_resource(note, dx, lines)


def build_claim(session: Session, appointment: Appointment) -> dict:
    charges = list(session.exec(select(Charge).where(Charge.appointment_id == appointment.id).order_by(Charge.line_no)))
    return claim_resource(appointment, charges, session.get(Location, appointment.location_id).timezone)


def _id_match(column, value: str):
    text = value.strip()
    return column == (int(text) if is_row_id(text) else -1)


def _visit_params(status_map: dict[str, str]) -> dict[str, _Param]:
    return {
        "patient": _ref_param(Appointment.patient_id, "Patient"),
        "practitioner": _ref_param(Appointment.provider_id, "Practitioner"),
        "date": _date(Appointment.starts_at),
        "status": _tok(lambda v, m: Appointment.status.in_(_statuses(v, status_map))),
    }


def _after(*columns):
    """(since) -> any of ``columns`` is later than ``since``."""
    return lambda since: or_(*[column > since for column in columns])


KINDS: dict[str, _Kind] = {
    "Patient": _Kind(
        action="fhir.patient.read",
        params={
            "name": _string(Patient.first_name, Patient.last_name),
            "family": _string(Patient.last_name),
            "given": _string(Patient.first_name),
            "birthdate": _Param("date", lambda v, m: _birthdate_clause(v)),
            "identifier": _tok(_identifier_clause),
            "active": _tok(lambda v, m: Patient.active == _boolean("active", v)),
        },
        query=_patient_query, build=lambda s, p: patient_resource(p), patient_of=lambda p: p.id,
        order=lambda: Patient.id, id_column=lambda: Patient.id, updated=_after(Patient.updated_at),
    ),
    "Practitioner": _Kind(
        action="fhir.directory.read",
        params={
            "name": _string(Provider.name),
            "identifier": _tok(_npi_clause),
            "active": _tok(lambda v, m: Provider.active == _boolean("active", v)),
        },
        query=lambda a: select(Provider), build=lambda s, p: practitioner_resource(p), patient_of=None,
        order=lambda: Provider.id, id_column=lambda: Provider.id, updated=_after(Provider.updated_at),
    ),
    "Appointment": _Kind(
        action="fhir.schedule.read", params=_visit_params(APPOINTMENT_STATUS),
        query=lambda a: _visit_query(a), build=lambda s, row: appointment_resource(*row),
        patient_of=lambda row: row[0].patient_id, order=lambda: Appointment.id, id_column=lambda: Appointment.id,
        updated=_after(Appointment.updated_at),
    ),
    "Encounter": _Kind(
        action="fhir.schedule.read", params=_visit_params(ENCOUNTER_STATUS),
        query=lambda a: _visit_query(a, HAPPENED), build=lambda s, row: encounter_resource(*row),
        patient_of=lambda row: row[0].patient_id, order=lambda: Appointment.id, id_column=lambda: Appointment.id,
        updated=_after(Appointment.updated_at),
    ),
    "Condition": _Kind(
        action="fhir.condition.read",
        params={
            "patient": _ref_param(Note.patient_id, "Patient"),
            "encounter": _ref_param(Note.appointment_id, "Encounter"),
            "code": _tok(_code_clause(NoteDiagnosis.code, ICD10_SYSTEM)),
            "recorded-date": _date(Note.signed_at),
        },
        query=_condition_query, build=lambda s, row: condition_resource(*row), patient_of=lambda row: row[1].patient_id,
        order=lambda: NoteDiagnosis.id, id_column=lambda: NoteDiagnosis.id, updated=_after(Note.updated_at, Note.signed_at),
    ),
    "DocumentReference": _Kind(
        action="fhir.note.read",
        params={
            "patient": _ref_param(Note.patient_id, "Patient"),
            "date": _date(Note.signed_at),
            "status": _tok(lambda v, m: Note.id.is_not(None) if _token(v)[1] == "current" else Note.id == -1),
            "encounter": _ref_param(Note.appointment_id, "Encounter"),
        },
        query=_note_query, build=build_document, patient_of=lambda n: n.patient_id,
        order=lambda: Note.id, id_column=lambda: Note.id, updated=_after(Note.updated_at, Note.signed_at),
    ),
    "Claim": _Kind(
        action="fhir.claim.read",
        params={
            "patient": _ref_param(Appointment.patient_id, "Patient"),
            "created": _Param("date", lambda v, m: Appointment.id.in_(
                select(Charge.appointment_id).where(_date_clause(Charge.created_at, v)))),
            "status": _tok(lambda v, m: Appointment.id.is_not(None) if _token(v)[1] == "active" else Appointment.id == -1),
        },
        query=_claim_query, build=build_claim, patient_of=lambda a: a.patient_id,
        order=lambda: Appointment.id, id_column=lambda: Appointment.id,
        updated=lambda since: Appointment.id.in_(select(Charge.appointment_id).where(Charge.created_at > since)),
    ),
    "Observation": _Kind(
        action="fhir.clinical.read",
        params={
            "patient": _ref_param(MeasureResult.patient_id, "Patient"),
            "date": _date(MeasureResult.recorded_at),
            "code": _tok(_code_clause(MeasureResult.measure_code, MEASURE_SYSTEM)),
            "encounter": _ref_param(Note.appointment_id, "Encounter"),
        },
        query=_observation_query, build=lambda s, row: observation_resource(*row, measure_name(s, row[0].measure_code)),
        patient_of=lambda row: row[0].patient_id, order=lambda: MeasureResult.id, id_column=lambda: MeasureResult.id,
        updated=_after(MeasureResult.recorded_at, Note.updated_at, Note.signed_at),
    ),
    "AllergyIntolerance": _Kind(
        action="fhir.clinical.read",
        params={
            "patient": _ref_param(PatientAllergy.patient_id, "Patient"),
            "clinical-status": _tok(lambda v, m: _active_clause(PatientAllergy.active, v, {True: "active", False: "inactive"})),
        },
        query=lambda a: _history_query(PatientAllergy, a), build=lambda s, a: allergy_resource(a),
        patient_of=lambda a: a.patient_id, order=lambda: PatientAllergy.id, id_column=lambda: PatientAllergy.id,
        updated=_after(PatientAllergy.updated_at),
    ),
    "MedicationStatement": _Kind(
        action="fhir.clinical.read",
        params={
            "patient": _ref_param(PatientMedication.patient_id, "Patient"),
            "status": _tok(lambda v, m: _active_clause(PatientMedication.active, v, {True: "active", False: "stopped"})),
        },
        query=lambda a: _history_query(PatientMedication, a), build=lambda s, m: medication_statement_resource(m),
        patient_of=lambda m: m.patient_id, order=lambda: PatientMedication.id, id_column=lambda: PatientMedication.id,
        updated=_after(PatientMedication.updated_at),
    ),
    "Coverage": _Kind(
        action="fhir.coverage.read",
        params={
            "patient": _ref_param(Coverage.patient_id, "Patient"),
            "beneficiary": _ref_param(Coverage.patient_id, "Patient"),
            "status": _tok(lambda v, m: _active_clause(Coverage.active, v, {True: "active", False: "cancelled"})),
        },
        query=coverage_query, build=lambda s, row: coverage_resource(*row),
        patient_of=lambda row: row[0].patient_id, order=lambda: Coverage.id, id_column=lambda: Coverage.id,
        updated=_after(Coverage.updated_at),
    ),
    # The task inbox (services/interop/fhir/tasks.py).
    "Task": _Kind(
        action="fhir.task.read",
        params={
            "patient": _ref_param(fhir_tasks.Task.patient_id, "Patient"),
            "owner": _tok(lambda v, m: fhir_tasks.owner_clause(*_token(v))),
            "status": _tok(lambda v, m: fhir_tasks.status_clause(_token(v)[1])),
        },
        query=fhir_tasks.task_query, build=fhir_tasks.task_resource, patient_of=lambda t: t.patient_id,
        order=lambda: fhir_tasks.Task.id, id_column=lambda: fhir_tasks.Task.id,
    ),
    "Questionnaire": _Kind(
        action="fhir.directory.read",
        params={
            "url": _Param("uri", lambda v, m: IntakeForm.code == v.strip().rsplit(":", 1)[-1].split("|")[0].upper()
                          if v.strip().startswith(fhir_q.FORM_URL + ":") else IntakeForm.id == -1),
            "status": _tok(lambda v, m: IntakeForm.retired == (_token(v)[1] == "retired")),
        },
        query=fhir_q.questionnaire_query, build=lambda s, row: fhir_q.questionnaire_resource(row), patient_of=None,
        order=lambda: IntakeForm.id, id_column=lambda: IntakeForm.id, updated=_after(IntakeForm.created_at),
    ),
    "QuestionnaireResponse": _Kind(
        action="fhir.clinical.read",
        params={
            "patient": _ref_param(IntakeResponse.patient_id, "Patient"),
            "subject": _ref_param(IntakeResponse.patient_id, "Patient"),
            "encounter": _ref_param(IntakeResponse.appointment_id, "Encounter"),
            "status": _tok(lambda v, m: IntakeResponse.status == _token(v)[1]),
            "authored": _date(IntakeResponse.updated_at),
        },
        query=fhir_q.response_query, build=fhir_q.response_resource, patient_of=lambda r: r.patient_id,
        order=lambda: IntakeResponse.id, id_column=lambda: IntakeResponse.id, updated=_after(IntakeResponse.updated_at),
    ),
}
# Types served from small in-memory lists (no PHI): the clinic and its locations and rooms.
DIRECTORY_TYPES = ("Organization", "Location")
TYPES = ("Patient", "Practitioner", "Organization", "Location", "Appointment", "Encounter",
         "Condition", "Claim", "DocumentReference", "Observation", "AllergyIntolerance", "MedicationStatement", "Coverage",
         "Task", "Questionnaire", "QuestionnaireResponse")
WRITABLE = ("Patient", "Appointment")
COMMON_PARAMS = ("_id", "_count", "_offset", "_format")


def search_params(resource_type: str) -> tuple[str, ...]:
    """The search parameters the server supports for a type (the CapabilityStatement's)."""
    if resource_type in DIRECTORY_TYPES:
        return ("_id", "name")
    return ("_id", *KINDS[resource_type].params)


def param_type(resource_type: str, name: str) -> str:
    if name == "_id":
        return "token"
    if resource_type in DIRECTORY_TYPES:
        return "string"
    return KINDS[resource_type].params[name].type


def _words_match(text: str, value: str, modifier: str) -> bool:
    """The string-search rule of ``_string_clause`` for values held in memory (directory names)."""
    if modifier == "exact":
        return text == value
    text, value = text.lower(), value.strip().lower()
    if modifier == "contains":
        return value in text
    return any(word.startswith(value) for word in [text, *re.split(r"[ -]", text)[1:]]) or text.startswith(value)


def _audit_views(session: Session, actor: Actor, resource_type: str, rows, patient_of, how: str, source: str) -> None:
    if patient_of is None or not rows:
        return
    for_write(session)
    audit.record_many(session, actor=actor, source=source, entries=[
        {"action": "view", "entity": f"fhir.{resource_type}", "entity_id": _numeric(resource["id"]),
         "patient_id": patient_of(row), "detail": f"API {how}"} for row, resource in rows
    ])
    session.flush()


def _numeric(ident: str) -> int | None:
    tail = ident.rsplit("-", 1)[-1]
    return int(tail) if is_row_id(tail) else None


def _directory(session: Session) -> list[tuple[str, dict]]:
    out = [("Organization", organization_resource())]
    out += [("Location", location_resource(x)) for x in session.exec(select(Location).order_by(Location.id))]
    out += [("Location", room_resource(x)) for x in session.exec(select(Room).order_by(Room.id))]
    return out


def _check_type(resource_type: str) -> None:
    if resource_type not in TYPES:
        raise NotFound(f"This server has no {resource_type[:40]!r} resources; see /fhir/metadata.")


def read(session: Session, *, actor: Actor, resource_type: str, resource_id: str, source: str = "") -> dict:
    """One resource by id; NotFound if it does not exist or the actor may not see it."""
    _check_type(resource_type)
    if resource_type in DIRECTORY_TYPES:
        require(actor.role, "fhir.directory.read")
        for kind, resource in _directory(session):
            if kind == resource_type and resource["id"] == resource_id:
                return resource
        raise NotFound(f"{resource_type}/{resource_id[:64]} does not exist.")
    kind = KINDS[resource_type]
    require(actor.role, kind.action)
    row = session.exec(kind.query(actor).where(_id_match(kind.id_column(), resource_id))).first()
    if row is None:
        raise NotFound(f"{resource_type}/{resource_id[:64]} does not exist or is not yours to see.")
    resource = kind.build(session, row)
    _audit_views(session, actor, resource_type, [(row, resource)], kind.patient_of, "read", source)
    return resource


def search(
    session: Session, *, actor: Actor, resource_type: str, params: list[tuple[str, str]], base_url: str, source: str = "",
    lenient: bool = False,
) -> dict:
    """A searchset Bundle: matches ANDed over parameters, commas ORing the values of one, paged by links.

    An unknown parameter (or a modifier a parameter does not take) is refused, unless ``lenient``
    (``Prefer: handling=lenient``): then it is ignored and named in an OperationOutcome entry, as
    is a ``_count`` above the maximum (held at it).
    """
    _check_type(resource_type)
    count, offset, filters, warnings = DEFAULT_COUNT, 0, [], []
    allowed_params = search_params(resource_type)
    for name, value in params:
        base, _, modifier = name.partition(":")
        if base == "_count":
            count = _int_param(name, value, 0, None)
            if count > MAX_COUNT:
                warnings.append(f"_count {count} is more than this server returns in a page; it was held at {MAX_COUNT}.")
                count = MAX_COUNT
        elif base == "_offset":
            offset = _int_param(name, value, 0, MAX_OFFSET)
        elif base == "_format":
            continue  # the API answers _format itself (406 for anything but JSON)
        elif base not in allowed_params or (modifier and modifier not in MODIFIERS.get(param_type(resource_type, base), ())):
            if base in allowed_params:
                takes = MODIFIERS.get(param_type(resource_type, base), ())
                problem = (f"{resource_type} search parameter {base} takes no :{modifier[:20]} modifier"
                           + (f" (it takes :{', :'.join(takes)})" if takes else "") + ".")
            else:
                problem = f"{resource_type} cannot be searched by {name[:40]!r}; use one of: {', '.join(allowed_params)}."
            if not lenient:
                raise InvalidInput(problem)
            warnings.append(problem.rstrip(".") + "; it was ignored (handling=lenient).")
        elif not value.strip() or len(value) > 200:
            raise InvalidInput(f"The search parameter {base} needs a value (at most 200 characters).")
        else:
            filters.append((name, value))

    if resource_type in DIRECTORY_TYPES:
        require(actor.role, "fhir.directory.read")
        matches = [r for kind, r in _directory(session) if kind == resource_type]
        for name, value in filters:
            base, _, modifier = name.partition(":")
            values = split_or(value)
            if base == "_id":
                matches = [r for r in matches if r["id"] in [v.strip() for v in values]]
            else:
                matches = [r for r in matches if any(_words_match(r["name"], v, modifier) for v in values)]
        total, page = len(matches), [(None, r) for r in matches[offset:offset + count]]
        patient_of = None
    else:
        kind = KINDS[resource_type]
        require(actor.role, kind.action)
        query = kind.query(actor)
        for name, value in filters:
            base, _, modifier = name.partition(":")
            if base == "_id":
                query = query.where(or_(*[_id_match(kind.id_column(), v) for v in split_or(value)]))
            else:
                query = query.where(or_(*[kind.params[base].clause(v, modifier) for v in split_or(value)]))
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = list(session.exec(query.order_by(kind.order()).offset(offset).limit(count))) if count else []
        page = [(row, kind.build(session, row)) for row in rows]
        patient_of = kind.patient_of
    _audit_views(session, actor, resource_type, page, patient_of, "search", source)
    return _searchset(resource_type, base_url, filters, page, total, count, offset, warnings)


def _int_param(name: str, value: str, low: int, high: int | None) -> int:
    text = value.strip()
    if not is_row_id(text) or int(text) < low or (high is not None and int(text) > high):
        raise InvalidInput(f"{name} must be a whole number from {low}" + (f" to {high}." if high is not None else " up."))
    return int(text)


def _searchset(resource_type, base_url, filters, page, total, count, offset, warnings=()) -> dict:
    def link(relation: str, at: int) -> dict:
        query = urlencode([*filters, ("_count", count), ("_offset", at)])
        return {"relation": relation, "url": f"{base_url}/{resource_type}?{query}"}

    links = [link("self", offset)]
    if count and offset + count < total:
        links.append(link("next", offset + count))
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    entries = [
        {"fullUrl": f"{base_url}/{resource_type}/{r['id']}", "resource": r, "search": {"mode": "match"}}
        for _, r in page
    ]
    if warnings:
        # search.html: an OperationOutcome with search.mode "outcome" tells what the server did with the request.
        entries.append({"resource": {"resourceType": "OperationOutcome", "issue": [
            {"severity": "warning", "code": "not-supported" if "ignored" in w else "too-costly", "diagnostics": w} for w in warnings
        ]}, "search": {"mode": "outcome"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": entries}




def capability_statement(base_url: str) -> dict:
    """What this server does, for /fhir/metadata (docs/interop.md says the same, with the sections)."""
    resources = []
    for kind in TYPES:
        interactions = [{"code": "read"}, {"code": "search-type"}]
        if kind in WRITABLE:
            interactions += [{"code": "create"}, {"code": "update"}]
        resources.append({
            "type": kind, "interaction": interactions,
            # No versions are kept: no meta.versionId, no ETag, no vread or _history; an update
            # sent with If-Match is refused rather than applied without the check it asks for.
            "versioning": "no-version", "readHistory": False, "updateCreate": False,
            "conditionalCreate": False, "conditionalRead": "not-supported", "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchParam": [
                {"name": name, "type": param_type(kind, name)} for name in search_params(kind)
            ] + [{"name": "_count", "type": "number"}, {"name": "_offset", "type": "number"}],
        })
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": utcnow().date().isoformat(),
        "publisher": clinic_name(), "kind": "instance", "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "software": {"name": "clinic_app"},
        "implementation": {"description": f"{clinic_name()} FHIR R4 API", "url": base_url},
        "rest": [{
            "mode": "server",
            "documentation": (
                "JSON only (_format=xml or Accept: application/fhir+xml is answered 406). Searches by GET, or POST "
                "[type]/_search with form parameters. Commas OR the values of any parameter. String parameters "
                "match the start of any word, case-insensitively; :exact and :contains are supported. Tokens take "
                "system|code, code or |code (no system); booleans true or false. _count defaults to "
                f"{DEFAULT_COUNT}; above {MAX_COUNT} it is held at {MAX_COUNT} with a warning. Unknown parameters are "
                "refused (400) unless the request says Prefer: handling=lenient. Incoming resources are validated "
                "against FHIR R4 4.0.1 (400 with an OperationOutcome naming each path). meta.lastUpdated is sent; "
                "versions are not kept (no versionId, ETag or If-Match)."
            ),
            "security": {
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "OAuth"}],
                             "text": "Bearer API tokens (python -m clinic_app api-token create), SMART-style scopes"}],
                "description": "Send Authorization: Bearer <token>. A token acts as its user: the user's role limits what it sees.",
            },
            "resource": resources,
            "interaction": [
                {"code": "transaction", "documentation": "POST /fhir, all or nothing (admin)."},
                {"code": "batch", "documentation": "POST /fhir, each entry on its own (admin)."},
            ],
            "operation": [{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                           "documentation": "System level. GET or POST (Parameters); _type, _since, _outputFormat "
                                            "(application/fhir+ndjson); other parameters are refused."}],
        }],
    }
