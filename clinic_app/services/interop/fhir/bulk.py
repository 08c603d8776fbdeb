"""FHIR R4 bulk export: every resource of the clinic as NDJSON, and its request parameters."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import or_
from sqlmodel import Session, select

from clinic_app.db import for_write
from clinic_app.models import (
    Appointment,
    AppointmentType,
    Charge,
    Coverage,
    Location,
    MeasureResult,
    Note,
    NoteDiagnosis,
    Patient,
    PatientAllergy,
    PatientMedication,
    Provider,
    Room,
    Task,
)
from clinic_app.services.interop.fhir import fhir_validate
from clinic_app.services.interop.fhir.mapping import (
    HAPPENED,
    allergy_resource,
    appointment_resource,
    condition_resource,
    coverage_resource,
    encounter_resource,
    instant,
    location_resource,
    medication_statement_resource,
    observation_resource,
    organization_resource,
    patient_resource,
    practitioner_resource,
    room_resource,
    to_utc,
)
from clinic_app.services.interop.fhir.search import (
    build_claim,
    build_document,
    coverage_query,
    measure_definition_of,
    measure_name,
)
from clinic_app.services.interop.fhir.tasks import task_resource
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput
from clinic_app.services.platform.permissions import require

# -- bulk export ---------------------------------------------------------------------------------------
EXPORT_TYPES = ("Organization", "Location", "Practitioner", "Patient", "Appointment", "Encounter",
                "DocumentReference", "Condition", "Claim", "Observation", "AllergyIntolerance", "MedicationStatement",
                "Coverage", "Task")
# Tasks are exported but not imported: a rule makes them again from the imported data.
IMPORTED_TYPES = tuple(kind for kind in EXPORT_TYPES if kind != "Task")


def _batched(session: Session, query, size: int = 500) -> Iterator:
    offset = 0
    while True:
        rows = list(session.exec(query.offset(offset).limit(size)))
        yield from rows
        if len(rows) < size:
            return
        offset += size


def export_resources(session: Session, types: tuple[str, ...] = EXPORT_TYPES,
                     since: dt.datetime | None = None) -> Iterator[tuple[str, dict]]:
    """Every resource of the clinic, type by type (drafts included as preliminary notes); with
    ``since``, only those changed after it (their ``meta.lastUpdated`` later than ``since``).
    The Organization (the clinic's name, a setting) has no change time: it is always included."""
    def changed(query, *columns):
        return query.where(or_(*[column > since for column in columns])) if since is not None else query

    if "Organization" in types:
        yield "Organization", organization_resource()
    if "Location" in types:
        for location in session.exec(changed(select(Location), Location.updated_at).order_by(Location.id)):
            yield "Location", location_resource(location)
        for room in session.exec(changed(select(Room), Room.updated_at).order_by(Room.id)):
            yield "Location", room_resource(room)
    if "Practitioner" in types:
        for provider in _batched(session, changed(select(Provider), Provider.updated_at).order_by(Provider.id)):
            yield "Practitioner", practitioner_resource(provider)
    if "Patient" in types:
        for patient in _batched(session, changed(select(Patient), Patient.updated_at).order_by(Patient.id)):
            yield "Patient", patient_resource(patient)
    visits = changed(select(Appointment, AppointmentType).join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id),
                     Appointment.updated_at).order_by(Appointment.id)
    if "Appointment" in types:
        for appointment, kind in _batched(session, visits):
            yield "Appointment", appointment_resource(appointment, kind)
    if "Encounter" in types:
        for appointment, kind in _batched(session, visits.where(Appointment.status.in_(HAPPENED))):
            yield "Encounter", encounter_resource(appointment, kind)
    if "DocumentReference" in types:
        for note in _batched(session, changed(select(Note), Note.updated_at, Note.signed_at).order_by(Note.id)):
            yield "DocumentReference", build_document(session, note)
    if "Condition" in types:
        conditions = changed(select(NoteDiagnosis, Note).join(Note, Note.id == NoteDiagnosis.note_id).where(Note.signed_at.is_not(None)),
                             Note.updated_at, Note.signed_at).order_by(NoteDiagnosis.id)
        for diagnosis, note in _batched(session, conditions):
            yield "Condition", condition_resource(diagnosis, note)
    if "Claim" in types:
        billed = select(Charge.appointment_id) if since is None else select(Charge.appointment_id).where(Charge.created_at > since)
        claims = select(Appointment).where(Appointment.id.in_(billed)).order_by(Appointment.id)
        for appointment in _batched(session, claims):
            yield "Claim", build_claim(session, appointment)
    if "Observation" in types:
        results = changed(select(MeasureResult, Note).join(Note, Note.id == MeasureResult.note_id),
                          MeasureResult.recorded_at, Note.updated_at, Note.signed_at).order_by(MeasureResult.id)
        names: dict[str, tuple[str, dict | None]] = {}
        for result, note in _batched(session, results):
            if result.measure_code not in names:
                names[result.measure_code] = (measure_name(session, result.measure_code),
                                              measure_definition_of(session, result.measure_code))
            yield "Observation", observation_resource(result, note, *names[result.measure_code])
    if "AllergyIntolerance" in types:
        for allergy in _batched(session, changed(select(PatientAllergy), PatientAllergy.updated_at).order_by(PatientAllergy.id)):
            yield "AllergyIntolerance", allergy_resource(allergy)
    if "MedicationStatement" in types:
        for medication in _batched(session, changed(select(PatientMedication), PatientMedication.updated_at).order_by(PatientMedication.id)):
            yield "MedicationStatement", medication_statement_resource(medication)
    if "Coverage" in types:
        for coverage, payer in _batched(session, changed(coverage_query(None), Coverage.updated_at).order_by(Coverage.id)):
            yield "Coverage", coverage_resource(coverage, payer)
    if "Task" in types:  # every task of the clinic, open and done (lastModified: opened or closed)
        for task in _batched(session, changed(select(Task), Task.created_at, Task.closed_at).order_by(Task.id)):
            yield "Task", task_resource(session, task)


OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
EXPORT_PARAMS = ("_type", "_since", "_outputFormat")
# Bulk Data IG kick-off parameters this server does not take: refused, never ignored, so that an
# export is never of more than was asked for.
EXPORT_REFUSED = ("_typeFilter", "_elements", "patient", "includeAssociatedData", "_until")


@dataclass
class ExportRequest:
    """What a bulk export kick-off asks for."""

    types: tuple[str, ...]
    since: dt.datetime | None


def export_request(params: list[tuple[str, str]]) -> ExportRequest:
    """The kick-off's parameters (from the query string or a POST's Parameters), checked: InvalidInput
    names a parameter this server does not take, a ``_since`` that is not an instant, or an
    ``_outputFormat`` other than NDJSON."""
    types: list[str] = []
    since = None
    for name, value in params:
        if name in EXPORT_REFUSED:
            raise InvalidInput(f"$export parameter {name} is not supported here; export without it "
                               "(this server never exports more than was asked for).")
        if name not in EXPORT_PARAMS:
            raise InvalidInput(f"$export takes {', '.join(EXPORT_PARAMS)}; {name[:40]!r} is not one of them.")
        if name == "_outputFormat" and value.strip() not in OUTPUT_FORMATS:
            raise InvalidInput(f"_outputFormat {value[:40]!r} is not offered: this server writes application/fhir+ndjson.")
        if name == "_since":
            if since is not None:
                raise InvalidInput("Give _since once.")
            since = _since(value)
        if name == "_type":
            types += list(export_types(value))
    return ExportRequest(types=tuple(dict.fromkeys(types)) or EXPORT_TYPES, since=since)


def _since(value: str) -> dt.datetime:
    """A ``_since`` instant (a date-time with its zone, e.g. 2030-03-01T00:00:00Z), as UTC."""
    text = str(value).strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$", text):
        raise InvalidInput(f"_since {text[:40]!r} must be an instant with its zone, e.g. 2030-03-01T00:00:00Z.")
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"_since {text[:40]!r} is not a date and time.") from None
    return to_utc(moment)


def export_parameters(body: dict) -> list[tuple[str, str]]:
    """A POST kick-off's Parameters resource as (name, value) pairs, checked against FHIR R4."""
    fhir_validate.validate(body, expected="Parameters")
    pairs = []
    for parameter in body.get("parameter") or []:
        values = [v for k, v in parameter.items() if k.startswith("value")]
        if len(values) != 1 or not isinstance(values[0], str):
            raise InvalidInput(f"Parameter {str(parameter.get('name'))[:40]!r} needs one value "
                               "(valueString, valueInstant or valueCode).")
        pairs.append((parameter.get("name", ""), values[0]))
    return pairs


def export_types(text: str | None) -> tuple[str, ...]:
    """The types a ``_type`` parameter asks for (all when absent); InvalidInput names a wrong one."""
    if not text:
        return EXPORT_TYPES
    wanted = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    for kind in wanted:
        if kind not in EXPORT_TYPES:
            raise InvalidInput(f"_type {kind[:40]!r} is not exported; choose from: {', '.join(EXPORT_TYPES)}.")
    return wanted or EXPORT_TYPES


def export_ndjson(
    session: Session, *, actor: Actor | None, out_dir: Path, source: str = "", types: tuple[str, ...] = EXPORT_TYPES,
    since: dt.datetime | None = None,
) -> dict[str, int]:
    """Write the clinic (or ``types`` of it) as ``<Type>.ndjson`` files in ``out_dir``; counts by type. Audited."""
    if actor is not None:
        require(actor.role, "fhir.export")
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    files: dict = {}
    try:
        for kind, resource in export_resources(session, types, since):
            if kind not in files:
                files[kind] = open(out_dir / f"{kind}.ndjson", "w", encoding="utf-8")  # noqa: SIM115 (closed below)
            files[kind].write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
            counts[kind] = counts.get(kind, 0) + 1
    finally:
        for handle in files.values():
            handle.close()
    for_write(session)
    audit.record(session, actor=actor, action="export", entity="clinic", source=source,
                 detail=("FHIR NDJSON: " + ", ".join(f"{k} {v}" for k, v in counts.items())
                         + (f" (changed since {instant(since)})" if since else ""))[:200])
    session.flush()
    return counts


def bundle_from_ndjson(folder: Path) -> dict:
    """A transaction Bundle of every resource in an NDJSON export folder."""
    entries = []
    for kind in IMPORTED_TYPES:
        path = folder / f"{kind}.ndjson"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    resource = json.loads(line)
                    entries.append({
                        "fullUrl": f"{resource['resourceType']}/{resource['id']}", "resource": resource,
                        "request": {"method": "POST", "url": resource["resourceType"]},
                    })
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


