"""FHIR R4 mapping of the clinic's rows: read, search, create/update, bulk export, import.

Plain Python (no web framework): clinic_app/api/ turns HTTP into these calls. Every
call takes the Actor (the token's user) and asks the same permission matrix as the
screens; every view or change of PHI is written to the audit log.

Resource ids are the rows' ids, except Location: sites are ``<id>``, rooms
``room-<id>`` (a room is a Location that is part of its site), and the one
Organization, the clinic, is ``clinic``. Encounter and Claim ids are the visit's
(appointment's) id; DocumentReference ids the note's; Condition ids the note
diagnosis row's.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import false, func, or_
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from clinic_app import settings
from clinic_app.db import for_write, utcnow
from clinic_app.models import (
    Appointment,
    AppointmentEvent,
    AppointmentType,
    Charge,
    Coverage,
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
    User,
)
from clinic_app.services.charting.codes import describe_icd10
from clinic_app.services.charting.measures import BUILTIN as BUILTIN_MEASURES
from clinic_app.services.charting.measures import definition as measure_definition
from clinic_app.services.charting.measures import score as score_measure
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.interop.fhir import fhir_validate
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.clock import local_day
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotFound, from_db_error
from clinic_app.services.platform.permissions import CLINICIAN, require

FHIR_VERSION = "4.0.1"
IMPORT_USERNAME = "fhir-import"
MRN_SYSTEM = "urn:clinic-app:mrn"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
HCPCS_SYSTEM = "urn:oid:2.16.840.1.113883.6.285"
TZ_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"
# The clinic's own extensions: what FHIR has no element for but a round trip needs.
EXT = "urn:clinic-app:fhir:"
EXT_VISIT_STATUS = EXT + "visit-status"
EXT_ARRIVED_AT = EXT + "arrived-at"
EXT_SESSION_STARTED_AT = EXT + "session-started-at"
EXT_LOCATION = EXT + "location"
EXT_DRUG_CLASS = EXT + "drug-class"
# A clinic-defined measure's definition (JSON) on its Observations, so an import can recreate it.
EXT_MEASURE_DEFINITION = EXT + "measure-definition"
# A Coverage's subscriber as the payer has them (names, birth date, address; JSON): 837P needs them.
EXT_SUBSCRIBER = EXT + "subscriber"
MEASURE_SYSTEM = EXT + "outcome-measure"
PAYER_ID_SYSTEM = EXT + "payer-id"
NOTE_JSON = "application/json"
ORG_ID = "clinic"

DEFAULT_COUNT = 20
MAX_COUNT = 100
MAX_OFFSET = 1_000_000

# Internal visit status -> FHIR Appointment.status / Encounter.status.
APPOINTMENT_STATUS = {
    "booked": "booked", "arrived": "arrived", "in_session": "checked-in", "ready_to_bill": "fulfilled",
    "billed": "fulfilled", "no_show": "noshow", "cancelled": "cancelled",
}
HAPPENED = ("arrived", "in_session", "ready_to_bill", "billed")
ENCOUNTER_STATUS = {"arrived": "arrived", "in_session": "in-progress", "ready_to_bill": "finished", "billed": "finished"}
# FHIR status asked for in an update -> the internal move it stands for.
APPOINTMENT_MOVES = {"arrived": "arrived", "checked-in": "in_session", "noshow": "no_show", "cancelled": "cancelled"}

PATIENT_FIELDS_MAX = {"first_name": 80, "last_name": 80, "phone": 32, "email": 120, "mrn": 20,
                      "address_line": 200, "city": 80, "region": 40, "postal_code": 12}
GENDERS = ("female", "male", "other", "unknown")  # Patient.sex is FHIR's administrative-gender
MRN_RE = re.compile(r"^[A-Za-z0-9-]{1,20}$")
ROW_ID_RE = re.compile(r"^[0-9]{1,11}$")
DATE_RE = re.compile(r"^(\d{4})(-(\d{2})(-(\d{2}))?)?$")
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


def clinic_name() -> str:
    return settings.clinic_name()


# -- small helpers ----------------------------------------------------------------------
def _instant(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if moment else None


# What the clinic stores: times of visits, notes and records (and birth dates) in these years.
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def _parse_instant(text, what: str) -> dt.datetime:
    """A date-time with a zone, as UTC; InvalidInput (never OverflowError) outside 1900-2199."""
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be a date and time with a zone, e.g. 2030-03-12T14:00:00Z.")
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{what} {text[:40]!r} is not a date and time (e.g. 2030-03-12T14:00:00Z).") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{what} has no time zone; add Z or an offset such as -05:00.")
    utc = _to_utc(moment)
    if not EARLIEST <= utc < LATEST:
        raise InvalidInput(f"{what} {text[:40]!r} is out of range: the clinic keeps times from 1900 to 2199.")
    return utc


def _to_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC, held at Python's smallest or largest time when the offset takes it past them
    (0001-01-01T00:00:00+14:00 is before datetime.min in UTC)."""
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        return _MIN if moment.year < 5000 else _MAX


_MIN = dt.datetime.min.replace(tzinfo=dt.UTC)
_MAX = dt.datetime.max.replace(tzinfo=dt.UTC)


def _plus(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    try:
        return moment + step
    except OverflowError:
        return _MAX


def _parse_date(text, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} must be a date such as 2030-03-12.") from None


def _money(cents: int) -> dict:
    return {"value": float(Decimal(cents) / 100), "currency": "USD"}


def _cents(money, what: str) -> int:
    try:
        value = Decimal(str(money["value"]))
    except (KeyError, TypeError, ArithmeticError):
        raise InvalidInput(f"{what} needs a money value.") from None
    return int((value * 100).to_integral_value())


def _meta(*moments: dt.datetime | None) -> dict:
    """``meta.lastUpdated``: the latest of the times the resource is made from (the server
    keeps no versions: no versionId, see the CapabilityStatement)."""
    known = [m for m in moments if m is not None]
    return {"meta": {"lastUpdated": _instant(max(known))}} if known else {}


def _ref(kind: str, ident) -> dict:
    return {"reference": f"{kind}/{ident}"}


def _procedure_system(code: str) -> str:
    return CPT_SYSTEM if code[:1] in "0123456789" else HCPCS_SYSTEM


def _ext(resource: dict, url: str) -> dict | None:
    return next((e for e in resource.get("extension") or [] if isinstance(e, dict) and e.get("url") == url), None)


def is_row_id(text) -> bool:
    """Whether ``text`` is a row id: ASCII digits only (str.isdigit also takes '¹'), and not huge."""
    return isinstance(text, str) and ROW_ID_RE.match(text) is not None


def _id_of(reference, kind: str) -> int | None:
    """The row id in ``Kind/123`` (or ``123``); None if it is not one of ours."""
    if not isinstance(reference, str):
        return None
    text = reference.strip()
    if "/" in text:
        head, _, text = text.rpartition("/")
        if head.rsplit("/", 1)[-1] != kind:
            return None
    return int(text) if is_row_id(text) else None


def _room_id(reference) -> int | None:
    if isinstance(reference, str) and reference.rsplit("/", 1)[-1].startswith("room-"):
        tail = reference.rsplit("/", 1)[-1][5:]
        return int(tail) if is_row_id(tail) else None
    return None


# -- resources -----------------------------------------------------------------------------
def organization_resource() -> dict:
    return {"resourceType": "Organization", "id": ORG_ID, "active": True, "name": clinic_name()}


def location_resource(location: Location) -> dict:
    resource = {
        "resourceType": "Location", "id": str(location.id), **_meta(location.updated_at),
        "extension": [{"url": TZ_EXTENSION, "valueCode": location.timezone}],
        "status": "active" if location.active else "inactive", "name": location.name, "mode": "instance",
        "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "si", "display": "Site"}]},
        "managingOrganization": _ref("Organization", ORG_ID),
    }
    if location.address:
        resource["address"] = {"text": location.address}
    return resource


def room_resource(room: Room) -> dict:
    return {
        "resourceType": "Location", "id": f"room-{room.id}", **_meta(room.updated_at), "status": "active" if room.active else "inactive",
        "name": room.name, "mode": "instance",
        "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "ro", "display": "Room"}]},
        "managingOrganization": _ref("Organization", ORG_ID), "partOf": _ref("Location", room.location_id),
    }


def practitioner_resource(provider: Provider) -> dict:
    resource = {
        "resourceType": "Practitioner", "id": str(provider.id), **_meta(provider.updated_at),
        "extension": [{"url": EXT_LOCATION, "valueReference": _ref("Location", provider.location_id)}],
        "active": provider.active, "name": [{"text": provider.name}],
        "qualification": [{"code": {"text": provider.discipline}}],
    }
    if provider.npi:
        resource["identifier"] = [{"system": NPI_SYSTEM, "value": provider.npi}]
    return resource


def patient_resource(patient: Patient) -> dict:
    resource = {
        "resourceType": "Patient", "id": str(patient.id), **_meta(patient.updated_at or patient.created_at),
        "identifier": [{
            "use": "usual", "system": MRN_SYSTEM, "value": patient.mrn,
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
        }],
        "active": patient.active,
        "name": [{"use": "official", "family": patient.last_name, "given": [patient.first_name]}],
        "gender": patient.sex if patient.sex in GENDERS else "unknown",
        "birthDate": patient.birth_date.isoformat(),
    }
    address = {k: v for k, v in (("line", [patient.address_line] if patient.address_line else None), ("city", patient.city),
                                 ("state", patient.region), ("postalCode", patient.postal_code)) if v}
    if address:
        resource["address"] = [{"use": "home", **address}]
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        resource["telecom"] = telecom
    return resource


def appointment_resource(appointment: Appointment, kind: AppointmentType) -> dict:
    extension = [{"url": EXT_VISIT_STATUS, "valueCode": appointment.status}]
    if appointment.arrived_at:
        extension.append({"url": EXT_ARRIVED_AT, "valueInstant": _instant(appointment.arrived_at)})
    if appointment.session_started_at:
        extension.append({"url": EXT_SESSION_STARTED_AT, "valueInstant": _instant(appointment.session_started_at)})
    participants = [
        {"actor": _ref("Patient", appointment.patient_id), "required": "required", "status": "accepted"},
        {"actor": _ref("Practitioner", appointment.provider_id), "required": "required", "status": "accepted"},
        {"actor": _ref("Location", appointment.location_id), "required": "required", "status": "accepted"},
    ]
    if appointment.room_id:
        participants.append({"actor": {"reference": f"Location/room-{appointment.room_id}"}, "required": "required", "status": "accepted"})
    resource = {
        "resourceType": "Appointment", "id": str(appointment.id), **_meta(appointment.updated_at or appointment.created_at),
        "extension": extension,
        "status": APPOINTMENT_STATUS[appointment.status], "appointmentType": {"text": kind.name},
        "start": _instant(appointment.starts_at), "end": _instant(appointment.ends_at),
        "minutesDuration": int((appointment.ends_at - appointment.starts_at).total_seconds() // 60),
        "created": _instant(appointment.created_at), "participant": participants,
    }
    if appointment.cancel_reason:
        resource["cancelationReason"] = {"text": appointment.cancel_reason}
    return resource


def encounter_resource(appointment: Appointment, kind: AppointmentType) -> dict:
    period = {"start": _instant(appointment.arrived_at or appointment.starts_at)}
    if ENCOUNTER_STATUS[appointment.status] == "finished":
        period["end"] = _instant(appointment.ends_at)
    locations = [{"location": _ref("Location", appointment.location_id)}]
    if appointment.room_id:
        locations.append({"location": {"reference": f"Location/room-{appointment.room_id}"}})
    return {
        "resourceType": "Encounter", "id": str(appointment.id), **_meta(appointment.updated_at or appointment.created_at), "status": ENCOUNTER_STATUS[appointment.status],
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"},
        "type": [{"text": kind.name}], "subject": _ref("Patient", appointment.patient_id),
        "participant": [{"individual": _ref("Practitioner", appointment.provider_id)}],
        "appointment": [_ref("Appointment", appointment.id)], "period": period, "location": locations,
        "serviceProvider": _ref("Organization", ORG_ID),
    }


def condition_resource(diagnosis: NoteDiagnosis, note: Note) -> dict:
    coding = {"system": ICD10_SYSTEM, "code": diagnosis.code}
    display = describe_icd10(diagnosis.code)
    if display:
        coding["display"] = display
    return {
        "resourceType": "Condition", "id": str(diagnosis.id), **_meta(note.updated_at, note.signed_at),
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}]}],
        "code": {"coding": [coding]}, "subject": _ref("Patient", note.patient_id),
        "encounter": _ref("Encounter", note.appointment_id), "recordedDate": _instant(note.signed_at),
        "recorder": _ref("Practitioner", note.provider_id),
    }


def _note_text(note: Note) -> str:
    return "\n\n".join(f"{field.title()}:\n{getattr(note, field)}" for field in ("subjective", "objective", "assessment", "plan"))


def document_reference_resource(note: Note, diagnoses: list[str], procedures: list[tuple[str, int]]) -> dict:
    """A note as a DocumentReference: plain text for people, and the same note as JSON
    (sections, diagnoses, procedure codes) so that an import restores it exactly."""
    content = {
        "subjective": note.subjective, "objective": note.objective, "assessment": note.assessment, "plan": note.plan,
        "diagnoses": diagnoses, "procedures": [{"code": c, "units": u} for c, u in procedures],
    }
    resource = {
        "resourceType": "DocumentReference", "id": str(note.id), **_meta(note.updated_at, note.signed_at), "status": "current",
        "docStatus": "final" if note.signed_at else "preliminary",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}]},
        "subject": _ref("Patient", note.patient_id), "date": _instant(note.signed_at or note.updated_at),
        "author": [_ref("Practitioner", note.provider_id)],
        "content": [
            {"attachment": {"contentType": "text/plain; charset=utf-8", "title": "SOAP note",
                            "data": base64.b64encode(_note_text(note).encode()).decode()}},
            {"attachment": {"contentType": NOTE_JSON, "title": "SOAP note (structured)",
                            "data": base64.b64encode(json.dumps(content, ensure_ascii=False).encode()).decode()}},
        ],
        "context": {"encounter": [_ref("Encounter", note.appointment_id)]},
    }
    if note.signed_at:
        resource["authenticator"] = _ref("Practitioner", note.provider_id)
    return resource


def claim_resource(appointment: Appointment, charges: list[Charge], tz: str) -> dict:
    codes: list[str] = []
    for charge in charges:
        for code in filter(None, charge.diagnosis_codes.split(",")):
            if code not in codes:
                codes.append(code)
    day = local_day(appointment.starts_at, tz).isoformat()
    items = [
        {
            "sequence": c.line_no, "careTeamSequence": [1],
            "diagnosisSequence": [codes.index(x) + 1 for x in filter(None, c.diagnosis_codes.split(","))],
            "productOrService": {"coding": [{"system": _procedure_system(c.code), "code": c.code}]},
            "servicedDate": day, "locationReference": _ref("Location", appointment.location_id),
            "quantity": {"value": c.units}, "unitPrice": _money(c.unit_price_cents), "net": _money(c.amount_cents),
            "encounter": [_ref("Encounter", appointment.id)],
        }
        for c in charges
    ]
    resource = {
        "resourceType": "Claim", "id": str(appointment.id), **_meta(*(c.created_at for c in charges)), "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "use": "claim", "patient": _ref("Patient", appointment.patient_id),
        "billablePeriod": {"start": _instant(appointment.starts_at), "end": _instant(appointment.ends_at)},
        "created": _instant(min(c.created_at for c in charges)), "provider": _ref("Organization", ORG_ID),
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        "careTeam": [{"sequence": 1, "provider": _ref("Practitioner", appointment.provider_id)}],
        "diagnosis": [
            {"sequence": i, "diagnosisCodeableConcept": {"coding": [{"system": ICD10_SYSTEM, "code": code}]}}
            for i, code in enumerate(codes, start=1)
        ],
        # Payers are a later issue: the claim says so instead of inventing a coverage.
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Coverage not recorded"}}],
        "item": items, "total": _money(sum(c.amount_cents for c in charges)),
    }
    if not resource["diagnosis"]:
        del resource["diagnosis"]
    return resource


def observation_resource(result: MeasureResult, note: Note, measure_name: str, definition: dict | None = None) -> dict:
    """An outcome measure's score at a visit (part of the visit's note), with one component per item.

    ``definition`` (a clinic-defined measure's items, range, scoring and MCID) travels in an
    extension so that an import into another clinic can recreate the measure.
    """
    values = json.loads(result.item_values or "[]")
    labels = json.loads(result.item_labels or "[]")
    resource = {
        "resourceType": "Observation", "id": str(result.id), **_meta(result.recorded_at, note.updated_at, note.signed_at), "status": "final" if note.signed_at else "preliminary",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey",
                                  "display": "Survey"}]}],
        "code": {"coding": [{"system": MEASURE_SYSTEM, "code": result.measure_code, "display": measure_name}], "text": measure_name},
        "subject": _ref("Patient", result.patient_id), "encounter": _ref("Encounter", note.appointment_id),
        "effectiveDateTime": _instant(result.recorded_at), "performer": [_ref("Practitioner", note.provider_id)],
        "valueQuantity": {"value": result.score, "unit": "score", "system": "http://unitsofmeasure.org", "code": "{score}"},
    }
    if values:
        resource["component"] = [
            {"code": {"text": str(labels[i]) if i < len(labels) and labels[i] else f"Item {i + 1}"}, "valueInteger": int(v)}
            for i, v in enumerate(values)
        ]
    if definition is not None:
        resource["extension"] = [{"url": EXT_MEASURE_DEFINITION, "valueString": json.dumps(definition, sort_keys=True)}]
    return resource


def allergy_resource(allergy: PatientAllergy) -> dict:
    resource = {
        "resourceType": "AllergyIntolerance", "id": str(allergy.id), **_meta(allergy.updated_at or allergy.recorded_at),
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                       "code": "active" if allergy.active else "inactive"}]},
        "code": {"text": allergy.substance}, "patient": _ref("Patient", allergy.patient_id),
        "recordedDate": _instant(allergy.recorded_at),
    }
    if allergy.reaction:
        resource["reaction"] = [{"manifestation": [{"text": allergy.reaction}]}]
    return resource


def medication_statement_resource(medication: PatientMedication) -> dict:
    resource = {
        "resourceType": "MedicationStatement", "id": str(medication.id), **_meta(medication.updated_at or medication.recorded_at),
        "extension": [{"url": EXT_DRUG_CLASS, "valueString": medication.drug_class}],
        "status": "active" if medication.active else "stopped",
        "medicationCodeableConcept": {"text": medication.name}, "subject": _ref("Patient", medication.patient_id),
        "dateAsserted": _instant(medication.recorded_at),
    }
    if medication.dose:
        resource["dosage"] = [{"text": medication.dose}]
    return resource


def coverage_resource(coverage: Coverage, payer: Payer) -> dict:
    period = {"start": coverage.effective_from.isoformat()}
    if coverage.effective_to:
        period["end"] = coverage.effective_to.isoformat()
    resource = {
        "resourceType": "Coverage", "id": str(coverage.id), **_meta(coverage.updated_at), "status": "active" if coverage.active else "cancelled",
        "subscriberId": coverage.member_id, "beneficiary": _ref("Patient", coverage.patient_id),
        "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                     "code": coverage.relationship}]},
        "period": period,
        "payor": [{"display": payer.name, "identifier": {"system": PAYER_ID_SYSTEM, "value": payer.payer_id}}],
        "order": coverage.priority,
    }
    if coverage.relationship == "self":
        resource["subscriber"] = _ref("Patient", coverage.patient_id)
    elif coverage.subscriber_first_name or coverage.subscriber_last_name:
        resource["subscriber"] = {"display": f"{coverage.subscriber_first_name} {coverage.subscriber_last_name}".strip()}
    subscriber = {
        "first_name": coverage.subscriber_first_name, "last_name": coverage.subscriber_last_name,
        "birth_date": coverage.subscriber_birth_date.isoformat() if coverage.subscriber_birth_date else "",
        "address": coverage.address, "city": coverage.city, "state": coverage.state, "zip_code": coverage.zip_code,
    }
    if any(subscriber.values()):
        resource["extension"] = [{"url": EXT_SUBSCRIBER, "valueString": json.dumps(subscriber, sort_keys=True)}]
    if coverage.group_number:
        resource["class"] = [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "group"}]},
                              "value": coverage.group_number}]
    return resource


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
                end = _plus(start, dt.timedelta(days=1))
            elif match[3]:
                end = _plus(start, dt.timedelta(days=32)).replace(day=1) if (year, month) != (9999, 12) else _MAX
            else:
                end = start.replace(year=year + 1) if year < 9999 else _MAX
            return prefix, start, end
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise InvalidInput(f"{value[:40]!r} is not a search date (e.g. 2030-03-12 or ge2030-03-01).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    start = _to_utc(moment)
    return prefix, start, _plus(start, dt.timedelta(seconds=1))


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


def _active_clause(column, value: str, mapping: dict[bool, str]):
    code = _token(value)[1]
    flags = [flag for flag, fhir_code in mapping.items() if fhir_code == code]
    return column.in_(flags) if flags else column.is_(None)


def _reference_clause(column, kind: str):
    return lambda v, m: column == (_id_of(v, kind) if _id_of(v, kind) is not None else -1)


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


def _measure_name(session: Session, code: str) -> str:
    if code in BUILTIN_MEASURES:
        return BUILTIN_MEASURES[code].name
    row = session.exec(select(OutcomeMeasure).where(OutcomeMeasure.code == code)).first()
    return row.name if row else code


def _measure_definition(session: Session, code: str) -> dict | None:
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


def _coverage_query(actor: Actor):
    return select(Coverage, Payer).join(Payer, Payer.id == Coverage.payer_id)


def _active_clause(column, value: str, mapping: dict[bool, str]):
    wanted = {v.strip().rpartition("|")[2] for v in value.split(",")}
    flags = [flag for flag, code in mapping.items() if code in wanted]
    return column.in_(flags) if flags else column.is_(None)


def _build_document(session: Session, note: Note) -> dict:
    dx = [d.code for d in session.exec(select(NoteDiagnosis).where(NoteDiagnosis.note_id == note.id).order_by(NoteDiagnosis.id))]
    lines = [(p.code, p.units) for p in session.exec(select(NoteProcedure).where(NoteProcedure.note_id == note.id).order_by(NoteProcedure.id))]
    return document_reference_resource(note, dx, lines)


def _build_claim(session: Session, appointment: Appointment) -> dict:
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
        query=_note_query, build=_build_document, patient_of=lambda n: n.patient_id,
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
        query=_claim_query, build=_build_claim, patient_of=lambda a: a.patient_id,
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
        query=_observation_query, build=lambda s, row: observation_resource(*row, _measure_name(s, row[0].measure_code)),
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
        query=_coverage_query, build=lambda s, row: coverage_resource(*row),
        patient_of=lambda row: row[0].patient_id, order=lambda: Coverage.id, id_column=lambda: Coverage.id,
        updated=_after(Coverage.updated_at),
    ),
}
# Types served from small in-memory lists (no PHI): the clinic and its locations and rooms.
DIRECTORY_TYPES = ("Organization", "Location")
TYPES = ("Patient", "Practitioner", "Organization", "Location", "Appointment", "Encounter",
         "Condition", "Claim", "DocumentReference", "Observation", "AllergyIntolerance", "MedicationStatement", "Coverage")
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


# -- writes --------------------------------------------------------------------------------------
def _patient_values(resource: dict) -> dict:
    """The Patient row's values in a FHIR Patient; InvalidInput names what to fix."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
        raise InvalidInput("Send a Patient resource (resourceType Patient).")
    names = resource.get("name")
    name = names[0] if isinstance(names, list) and names and isinstance(names[0], dict) else {}
    given = name.get("given")
    first = given[0] if isinstance(given, list) and given and isinstance(given[0], str) else ""
    last = name.get("family") if isinstance(name.get("family"), str) else ""
    values = {"first_name": first.strip(), "last_name": last.strip()}
    if not values["first_name"] or not values["last_name"]:
        raise InvalidInput("The patient needs a family name and a given name.")
    birth = resource.get("birthDate")
    try:
        values["birth_date"] = dt.date.fromisoformat(birth) if isinstance(birth, str) and len(birth) == 10 else None
    except ValueError:
        values["birth_date"] = None
    if values["birth_date"] is None:
        raise InvalidInput("The patient needs a birth date written YYYY-MM-DD.")
    if not dt.date(1900, 1, 1) <= values["birth_date"] <= utcnow().date():
        raise InvalidInput("The birth date must be between 1900-01-01 and today.")
    values["phone"], values["email"] = "", ""
    for telecom in resource.get("telecom") or []:
        if isinstance(telecom, dict) and telecom.get("system") in ("phone", "email") and isinstance(telecom.get("value"), str):
            values.setdefault(telecom["system"], "")
            if not values[telecom["system"]]:
                values[telecom["system"]] = telecom["value"].strip()
    if values["email"] and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", values["email"]):
        raise InvalidInput(f"{values['email'][:60]!r} is not an e-mail address.")
    mrn = None
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == MRN_SYSTEM and isinstance(identifier.get("value"), str):
            mrn = identifier["value"].strip()
    if mrn is not None:
        if not MRN_RE.match(mrn):
            raise InvalidInput("The MRN must be 1-20 letters, digits or dashes.")
        values["mrn"] = mrn
    active = resource.get("active", True)
    if not isinstance(active, bool):
        raise InvalidInput("active must be true or false.")
    values["active"] = active
    gender = resource.get("gender", "unknown")
    if gender not in GENDERS:
        raise InvalidInput(f"gender must be one of {', '.join(GENDERS)}.")
    values["sex"] = gender
    values.update(_address_values(resource.get("address")))
    for field, most in PATIENT_FIELDS_MAX.items():
        if len(values.get(field) or "") > most:
            raise InvalidInput(f"The {field.replace('_', ' ')} is too long (at most {most} characters).")
    return values


def _address_values(addresses) -> dict:
    """The home (else first current) address of a Patient as the row keeps it: one line, city, state, ZIP."""
    usable = [a for a in addresses or [] if isinstance(a, dict) and a.get("use") != "old"]
    address = next((a for a in usable if a.get("use") == "home"), usable[0] if usable else {})
    lines = [str(x).strip() for x in address.get("line") or [] if isinstance(x, str) and x.strip()]
    return {"address_line": ", ".join(lines), "city": str(address.get("city") or "").strip(),
            "region": str(address.get("state") or "").strip(), "postal_code": str(address.get("postalCode") or "").strip()}


def _mrn_free(session: Session, mrn: str, patient_id: int | None) -> None:
    other = session.exec(select(Patient).where(Patient.mrn == mrn)).first()
    if other is not None and other.id != patient_id:
        raise InvalidInput(f"MRN {mrn} already belongs to another patient; leave it out to have one assigned.")


def _new_mrn(session: Session) -> str:
    number = (session.exec(select(func.count()).select_from(Patient)).one() or 0) + 1
    while session.exec(select(Patient.id).where(Patient.mrn == f"P{number:06d}")).first() is not None:
        number += 1
    return f"P{number:06d}"


def create_patient(session: Session, *, actor: Actor | None, resource: dict, source: str = "",
    action: str = "fhir.patient.write", validate: bool = True,
) -> Patient:
    """Register a patient from a FHIR Patient (MRN assigned if none is given).

    ``validate``: check the resource against FHIR R4 4.0.1 first (an import has checked its
    whole bundle; HL7 v2 builds the resource itself).
    """
    for_write(session)
    if actor is not None:
        require(actor.role, action)  # an import checks fhir.import instead
    if validate:
        fhir_validate.validate(resource, expected="Patient")
    values = _patient_values(resource)
    if "mrn" in values:
        _mrn_free(session, values["mrn"], None)
    else:
        values["mrn"] = _new_mrn(session)
    patient = Patient(**values)
    session.add(patient)
    session.flush()
    audit.record(session, actor=actor, action="create", entity="patient", entity_id=patient.id,
                 patient_id=patient.id, detail="FHIR", source=source)
    return patient


def update_patient(session: Session, *, actor: Actor | None, patient_id: int, resource: dict, source: str = "",
    action: str = "fhir.patient.write", validate: bool = True,
) -> Patient:
    """Replace a patient's demographics with a FHIR Patient's (FHIR update is a whole replace)."""
    for_write(session)
    if actor is not None:
        require(actor.role, action)  # an import checks fhir.import instead
    if validate:
        fhir_validate.validate(resource, expected="Patient")
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"Patient/{patient_id} does not exist.")
    values = _patient_values(resource)
    values.setdefault("mrn", patient.mrn)
    _mrn_free(session, values["mrn"], patient.id)
    changed = sorted(k for k, v in values.items() if getattr(patient, k) != v)
    for key, value in values.items():
        setattr(patient, key, value)
    audit.record(session, actor=actor, action="update", entity="patient", entity_id=patient.id,
                 patient_id=patient.id, detail="FHIR: " + ", ".join(changed), source=source)
    session.flush()
    return patient


def _participants(resource: dict, url_kinds: dict[str, str] | None = None) -> dict[str, str]:
    """Participant references by type (rooms apart); ``url_kinds`` types a bundle's urn: references."""
    found: dict[str, str] = {}
    for participant in resource.get("participant") or []:
        reference = (participant.get("actor") or {}).get("reference") if isinstance(participant, dict) else None
        if not isinstance(reference, str):
            continue
        kind = (url_kinds or {}).get(reference) or (reference.split("/")[-2] if "/" in reference else None)
        if kind:
            key = "Room" if kind == "Location" and _room_id(reference) is not None else kind
            found.setdefault(key, reference)
    return found


def _appointment_type(session: Session, resource: dict) -> AppointmentType:
    kind = resource.get("appointmentType")
    name = ""
    if isinstance(kind, dict):
        name = kind.get("text") or next(
            (c.get("display") or c.get("code") for c in kind.get("coding") or [] if isinstance(c, dict)), ""
        ) or ""
    found = session.exec(
        select(AppointmentType).where(func.lower(AppointmentType.name) == str(name).strip().lower(), AppointmentType.active)
    ).first()
    if found is None:
        names = ", ".join(t.name for t in session.exec(select(AppointmentType).where(AppointmentType.active)))
        raise InvalidInput(f"Give appointmentType.text as one of the clinic's visit types: {names}.")
    return found


def create_appointment(session: Session, *, actor: Actor, resource: dict, now: dt.datetime | None = None) -> Appointment:
    """Book from a FHIR Appointment through scheduling.book_appointment (all booking rules hold)."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Appointment":
        raise InvalidInput("Send an Appointment resource (resourceType Appointment).")
    fhir_validate.validate(resource, expected="Appointment")
    if resource.get("status", "booked") not in ("booked", "proposed", "pending"):
        raise InvalidInput("A new appointment is booked; its status must be booked.")
    refs = _participants(resource)
    patient_id = _id_of(refs.get("Patient"), "Patient")
    provider_id = _id_of(refs.get("Practitioner"), "Practitioner")
    if patient_id is None:
        raise InvalidInput("Name the patient as a participant (actor Patient/<id>).")
    if provider_id is None:
        raise InvalidInput("Name the practitioner as a participant (actor Practitioner/<id>).")
    room_id = _room_id(refs.get("Room")) if "Room" in refs else None
    kind = _appointment_type(session, resource)
    starts_at = _parse_instant(resource.get("start"), "start")
    return scheduling.book_appointment(
        session, actor=actor, patient_id=patient_id, provider_id=provider_id, appointment_type_id=kind.id,
        starts_at=starts_at, room_id=room_id, now=now,
    )


def update_appointment(session: Session, *, actor: Actor, appointment_id: int, resource: dict, now: dt.datetime | None = None) -> Appointment:
    """Apply a FHIR Appointment update: only a status move (check in, start, no-show, cancel)."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "Appointment":
        raise InvalidInput("Send an Appointment resource (resourceType Appointment).")
    fhir_validate.validate(resource, expected="Appointment")
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"Appointment/{appointment_id} does not exist.")
    start = resource.get("start")
    if start is not None and _parse_instant(start, "start") != appointment.starts_at:
        raise InvalidInput("The time cannot be changed through the API; cancel this visit and book a new one.")
    refs = _participants(resource)
    if refs.get("Patient") and _id_of(refs["Patient"], "Patient") != appointment.patient_id:
        raise InvalidInput("The patient of a visit cannot be changed; cancel it and book a new one.")
    if refs.get("Practitioner") and _id_of(refs["Practitioner"], "Practitioner") != appointment.provider_id:
        raise InvalidInput("The practitioner of a visit cannot be changed; cancel it and book a new one.")
    wanted = resource.get("status")
    if wanted == APPOINTMENT_STATUS[appointment.status]:
        return appointment
    if wanted not in APPOINTMENT_MOVES:
        raise InvalidInput(
            "Through the API a visit can move to arrived, checked-in, noshow or cancelled; "
            "it becomes fulfilled when its note is signed."
        )
    reason = (resource.get("cancelationReason") or {}).get("text", "") if isinstance(resource.get("cancelationReason"), dict) else ""
    return scheduling.transition(
        session, actor=actor, appointment_id=appointment_id, to_status=APPOINTMENT_MOVES[wanted],
        reason=str(reason), now=now,
    )


def appointment_as_fhir(session: Session, appointment: Appointment) -> dict:
    return appointment_resource(appointment, session.get(AppointmentType, appointment.appointment_type_id))


# -- bulk export ---------------------------------------------------------------------------------------
EXPORT_TYPES = ("Organization", "Location", "Practitioner", "Patient", "Appointment", "Encounter",
                "DocumentReference", "Condition", "Claim", "Observation", "AllergyIntolerance", "MedicationStatement",
                "Coverage")


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
            yield "DocumentReference", _build_document(session, note)
    if "Condition" in types:
        conditions = changed(select(NoteDiagnosis, Note).join(Note, Note.id == NoteDiagnosis.note_id).where(Note.signed_at.is_not(None)),
                             Note.updated_at, Note.signed_at).order_by(NoteDiagnosis.id)
        for diagnosis, note in _batched(session, conditions):
            yield "Condition", condition_resource(diagnosis, note)
    if "Claim" in types:
        billed = select(Charge.appointment_id) if since is None else select(Charge.appointment_id).where(Charge.created_at > since)
        claims = select(Appointment).where(Appointment.id.in_(billed)).order_by(Appointment.id)
        for appointment in _batched(session, claims):
            yield "Claim", _build_claim(session, appointment)
    if "Observation" in types:
        results = changed(select(MeasureResult, Note).join(Note, Note.id == MeasureResult.note_id),
                          MeasureResult.recorded_at, Note.updated_at, Note.signed_at).order_by(MeasureResult.id)
        names: dict[str, tuple[str, dict | None]] = {}
        for result, note in _batched(session, results):
            if result.measure_code not in names:
                names[result.measure_code] = (_measure_name(session, result.measure_code),
                                              _measure_definition(session, result.measure_code))
            yield "Observation", observation_resource(result, note, *names[result.measure_code])
    if "AllergyIntolerance" in types:
        for allergy in _batched(session, changed(select(PatientAllergy), PatientAllergy.updated_at).order_by(PatientAllergy.id)):
            yield "AllergyIntolerance", allergy_resource(allergy)
    if "MedicationStatement" in types:
        for medication in _batched(session, changed(select(PatientMedication), PatientMedication.updated_at).order_by(PatientMedication.id)):
            yield "MedicationStatement", medication_statement_resource(medication)
    if "Coverage" in types:
        for coverage, payer in _batched(session, changed(_coverage_query(None), Coverage.updated_at).order_by(Coverage.id)):
            yield "Coverage", coverage_resource(coverage, payer)


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
    return _to_utc(moment)


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
                         + (f" (changed since {_instant(since)})" if since else ""))[:200])
    session.flush()
    return counts


def bundle_from_ndjson(folder: Path) -> dict:
    """A transaction Bundle of every resource in an NDJSON export folder."""
    entries = []
    for kind in EXPORT_TYPES:
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


# -- import ------------------------------------------------------------------------------------------------
IMPORT_ORDER = ("Organization", "Location", "Practitioner", "Patient", "Appointment", "Encounter",
                "DocumentReference", "Condition", "Claim", "Observation", "AllergyIntolerance", "MedicationStatement",
                "Coverage")


class _Importer:
    """Applies a transaction Bundle's entries in dependency order, mapping its ids to ours."""

    def __init__(self, session: Session, actor: Actor | None, source: str):
        self.session, self.actor, self.source = session, actor, source
        self.ids: dict[str, int] = {}  # "Type/id" or fullUrl of the bundle -> our row id
        self.url_kinds: dict[str, str] = {}  # fullUrl -> resourceType, for urn:uuid references
        # Notes are signed once every entry is in: a signed note takes no more measure scores.
        self.to_sign: list[tuple[Note, dt.datetime]] = []
        self._recorder_id: int | None = actor.user_id if actor else None

    def recorder(self) -> int:
        """Who recorded imported allergies, medications and scores: the importing user, or (from the
        command line, maybe into an empty clinic) an inactive "fhir-import" account that cannot sign in."""
        if self._recorder_id is None:
            user = self.session.exec(select(User).where(User.username == IMPORT_USERNAME)).first()
            if user is None:
                user = User(username=IMPORT_USERNAME, full_name="FHIR import", password_hash="!", role="admin", active=False)
                self.session.add(user)
                self.session.flush()
            self._recorder_id = user.id
        return self._recorder_id

    def handlers(self) -> dict[str, Callable[[dict, dict], str | None]]:
        return {"Location": self.location, "Practitioner": self.practitioner, "Patient": self.patient,
                "Appointment": self.appointment, "DocumentReference": self.document, "Claim": self.claim,
                "Observation": self.observation, "AllergyIntolerance": self.allergy,
                "MedicationStatement": self.medication, "Coverage": self.coverage}

    def sign_notes(self) -> None:
        for note, signed_at in self.to_sign:
            note.signed_at = signed_at
        self.session.flush()

    def local(self, reference, kind: str, *, required: bool = True) -> int | None:
        ref = reference.get("reference") if isinstance(reference, dict) else reference
        if isinstance(ref, str):
            key = ref if ref.startswith("urn:") else f"{kind}/{ref.rsplit('/', 1)[-1]}"
            if key in self.ids:
                return self.ids[key]
            existing = _id_of(ref, kind)
            model = {"Patient": Patient, "Practitioner": Provider, "Location": Location, "Appointment": Appointment,
                     "Encounter": Appointment}.get(kind)
            if existing is not None and model is not None and self.session.get(model, existing) is not None:
                return existing
        if required and not isinstance(ref, str):
            raise InvalidInput(f"A reference to the {kind} is missing.")
        if required:
            raise InvalidInput(f"The reference {ref[:60]!r} points at no {kind} in the bundle or the clinic.")
        return None

    def remember(self, entry: dict, resource: dict, local_id: int, kind: str | None = None) -> None:
        key = f"{kind or resource['resourceType']}/{resource.get('id')}"
        self.ids[key] = local_id
        if isinstance(entry.get("fullUrl"), str):
            self.ids[entry["fullUrl"]] = local_id

    def location(self, entry: dict, resource: dict) -> str:
        if resource.get("partOf"):
            site = self.local(resource["partOf"], "Location")
            room = self.session.exec(select(Room).where(Room.location_id == site, Room.name == resource.get("name"))).first()
            if room is None:
                room = Room(location_id=site, name=_text(resource.get("name"), "room name", 80), active=resource.get("status") != "inactive")
                self.session.add(room)
                self.session.flush()
            self.remember(entry, resource, room.id, "Room")
            return f"Location/room-{room.id}"
        name = _text(resource.get("name"), "location name", 120)
        site = self.session.exec(select(Location).where(Location.name == name)).first()
        tz = (_ext(resource, TZ_EXTENSION) or {}).get("valueCode") or "America/New_York"
        if site is None:
            site = Location(name=name, timezone=tz, address=str((resource.get("address") or {}).get("text", ""))[:250],
                            active=resource.get("status") != "inactive")
            self.session.add(site)
            self.session.flush()
        self.remember(entry, resource, site.id)
        return f"Location/{site.id}"

    def practitioner(self, entry: dict, resource: dict) -> str:
        name = _text(((resource.get("name") or [{}])[0] or {}).get("text"), "practitioner name", 120)
        site = self.local((_ext(resource, EXT_LOCATION) or {}).get("valueReference"), "Location")
        npi = next((i.get("value") for i in resource.get("identifier") or [] if i.get("system") == NPI_SYSTEM), None)
        provider = self.session.exec(select(Provider).where(Provider.name == name, Provider.location_id == site)).first()
        if provider is None:
            discipline = (((resource.get("qualification") or [{}])[0] or {}).get("code") or {}).get("text") or "physiotherapy"
            provider = Provider(name=name, location_id=site, npi=npi, discipline=str(discipline)[:40], active=resource.get("active", True))
            self.session.add(provider)
            self.session.flush()
        self.remember(entry, resource, provider.id)
        return f"Practitioner/{provider.id}"

    def patient(self, entry: dict, resource: dict) -> str:
        values = _patient_values(resource)
        existing = self.session.exec(select(Patient).where(Patient.mrn == values["mrn"])).first() if "mrn" in values else None
        if existing is None:
            patient = create_patient(self.session, actor=self.actor, resource=resource, source=self.source,
                                     action="fhir.import", validate=False)
        else:
            patient = update_patient(self.session, actor=self.actor, patient_id=existing.id, resource=resource,
                                     source=self.source, action="fhir.import", validate=False)
        self.remember(entry, resource, patient.id)
        return f"Patient/{patient.id}"

    def appointment(self, entry: dict, resource: dict) -> str:
        refs = _participants(resource, self.url_kinds)
        patient_id = self.local(refs.get("Patient"), "Patient")
        provider_id = self.local(refs.get("Practitioner"), "Practitioner")
        provider = self.session.get(Provider, provider_id)
        room_ref = refs.get("Room")
        room_id = None
        if room_ref:
            key = f"Room/{room_ref.rsplit('/', 1)[-1]}"
            room_id = self.ids.get(key) or _room_id(room_ref)
        starts_at = _parse_instant(resource.get("start"), "start")
        ends_at = _parse_instant(resource.get("end"), "end")
        status = (_ext(resource, EXT_VISIT_STATUS) or {}).get("valueCode")
        if status not in APPOINTMENT_STATUS:
            status = {v: k for k, v in APPOINTMENT_STATUS.items()}.get(resource.get("status"), "booked")
        type_name = _text((resource.get("appointmentType") or {}).get("text"), "appointmentType.text", 80)
        kind = self.session.exec(select(AppointmentType).where(AppointmentType.name == type_name)).first()
        if kind is None:
            minutes = resource.get("minutesDuration") or int((ends_at - starts_at).total_seconds() // 60)
            kind = AppointmentType(name=type_name, duration_minutes=min(480, max(5, int(minutes))))
            self.session.add(kind)
            self.session.flush()
        extra = {}
        for url, field in ((EXT_ARRIVED_AT, "arrived_at"), (EXT_SESSION_STARTED_AT, "session_started_at")):
            found = _ext(resource, url)
            if found:
                extra[field] = _parse_instant(found.get("valueInstant"), field.replace("_", " "))
        appointment = Appointment(
            patient_id=patient_id, provider_id=provider_id, location_id=provider.location_id, room_id=room_id,
            appointment_type_id=kind.id, starts_at=starts_at, ends_at=ends_at, status=status,
            cancel_reason=str((resource.get("cancelationReason") or {}).get("text", ""))[:200],
            created_at=_parse_instant(resource["created"], "created") if resource.get("created") else utcnow(), **extra,
        )
        self.session.add(appointment)
        self.session.flush()
        self.session.add(AppointmentEvent(appointment_id=appointment.id, to_status=status,
                                          user_id=self.actor.user_id if self.actor else None, note="imported (FHIR)"))
        audit.record(self.session, actor=self.actor, action="create", entity="appointment", entity_id=appointment.id,
                     patient_id=patient_id, detail="FHIR import", source=self.source)
        self.remember(entry, resource, appointment.id)
        self.ids[f"Encounter/{resource.get('id')}"] = appointment.id
        return f"Appointment/{appointment.id}"

    def document(self, entry: dict, resource: dict) -> str:
        encounters = (resource.get("context") or {}).get("encounter") or []
        appointment_id = self.local(encounters[0] if encounters else None, "Encounter")
        appointment = self.session.get(Appointment, appointment_id)
        body = next((c["attachment"] for c in resource.get("content") or []
                     if isinstance(c, dict) and (c.get("attachment") or {}).get("contentType") == NOTE_JSON), None)
        if body is None:
            raise InvalidInput("A DocumentReference needs the structured note (contentType application/json).")
        try:
            content = json.loads(base64.b64decode(body.get("data", "")))
        except ValueError:
            raise InvalidInput("The structured note is not base64-encoded JSON.") from None
        note = Note(appointment_id=appointment.id, patient_id=appointment.patient_id, provider_id=appointment.provider_id,
                    **{f: str(content.get(f, "")) for f in ("subjective", "objective", "assessment", "plan")})
        self.session.add(note)
        self.session.flush()
        for code in content.get("diagnoses", []):
            self.session.add(NoteDiagnosis(note_id=note.id, code=str(code)[:8]))
        for line in content.get("procedures", []):
            self.session.add(NoteProcedure(note_id=note.id, code=str(line["code"])[:5], units=int(line["units"])))
        self.session.flush()
        if resource.get("docStatus") == "final":
            # Signed after every entry is in (sign_notes): the database refuses any change to a
            # signed note's codes and scores.
            self.to_sign.append((note, _parse_instant(resource.get("date"), "date")))
        audit.record(self.session, actor=self.actor, action="create", entity="note", entity_id=note.id,
                     patient_id=note.patient_id, detail="FHIR import", source=self.source)
        self.remember(entry, resource, note.id)
        return f"DocumentReference/{note.id}"

    def claim(self, entry: dict, resource: dict) -> str:
        items = resource.get("item") or []
        encounter = next((e for i in items for e in i.get("encounter") or []), None)
        appointment_id = self.local(encounter, "Encounter")
        note = self.session.exec(select(Note).where(Note.appointment_id == appointment_id)).first()
        if note is None:
            raise InvalidInput(f"Claim/{resource.get('id')} is for a visit with no note in the bundle or the clinic.")
        codes = [((d.get("diagnosisCodeableConcept") or {}).get("coding") or [{}])[0].get("code", "")
                 for d in resource.get("diagnosis") or []]
        created = _parse_instant(resource.get("created"), "created")
        for item in items:
            coding = ((item.get("productOrService") or {}).get("coding") or [{}])[0]
            self.session.add(Charge(
                appointment_id=appointment_id, note_id=note.id, line_no=int(item["sequence"]), code=str(coding.get("code", ""))[:5],
                units=int((item.get("quantity") or {}).get("value", 1)), unit_price_cents=_cents(item.get("unitPrice"), "unitPrice"),
                amount_cents=_cents(item.get("net"), "net"), created_at=created,
                diagnosis_codes=",".join(codes[s - 1] for s in item.get("diagnosisSequence") or [] if 0 < s <= len(codes)),
            ))
        self.session.flush()
        return f"Claim/{appointment_id}"

    def observation(self, entry: dict, resource: dict) -> str:
        appointment_id = self.local(resource.get("encounter"), "Encounter")
        note = self.session.exec(select(Note).where(Note.appointment_id == appointment_id)).first()
        if note is None:
            raise InvalidInput("The Observation is for a visit with no note in the bundle or the clinic.")
        coding = next((c for c in (resource.get("code") or {}).get("coding") or [] if c.get("system") == MEASURE_SYSTEM), None)
        if coding is None:
            raise InvalidInput(f"Only outcome measure scores are imported (code system {MEASURE_SYSTEM}).")
        code = _text(coding.get("code"), "measure code", 16).upper()
        existing = self.session.exec(select(MeasureResult).where(MeasureResult.note_id == note.id,
                                                                 MeasureResult.measure_code == code)).first()
        if existing is not None:  # that visit's score is on the chart already (one score per measure and note)
            self.remember(entry, resource, existing.id)
            return f"Observation/{existing.id}"
        self._ensure_measure(code, resource)
        defn = measure_definition(self.session, code)
        components = resource.get("component") or []
        values = [c.get("valueInteger") for c in components]
        labels = [str((c.get("code") or {}).get("text") or "") for c in components]
        if not components:
            values, labels = [(resource.get("valueQuantity") or {}).get("value")], None
        score, values, labels = score_measure(defn, values, labels if defn.labels_editable else None)
        stated = (resource.get("valueQuantity") or {}).get("value")
        if stated is not None and abs(float(stated) - score) > 0.01:
            raise InvalidInput(f"The {code} score {stated} does not match its items (they score {score:g}).")
        result = MeasureResult(
            note_id=note.id, patient_id=note.patient_id, measure_code=code, item_values=json.dumps(values),
            item_labels=json.dumps(labels), score=score, recorded_by_user_id=self.recorder(),
            recorded_at=_parse_instant(resource.get("effectiveDateTime"), "effectiveDateTime"),
        )
        self.session.add(result)
        self.session.flush()
        self.remember(entry, resource, result.id)
        return f"Observation/{result.id}"

    def _ensure_measure(self, code: str, resource: dict) -> None:
        """A clinic-defined measure missing here is recreated from the definition its Observation carries."""
        if code in BUILTIN_MEASURES or self.session.exec(select(OutcomeMeasure).where(OutcomeMeasure.code == code)).first():
            return
        found = _ext(resource, EXT_MEASURE_DEFINITION)
        if not found:
            raise InvalidInput(f"{code} is not one of the clinic's outcome measures and the Observation carries no definition.")
        spec = json.loads(found.get("valueString") or "")
        items = [str(i).strip()[:80] for i in spec["items"] if str(i).strip()]
        if not items or spec["scoring"] not in ("sum", "mean") or not int(spec["item_min"]) < int(spec["item_max"]) or not float(spec["mcid"]) > 0:
            raise InvalidInput(f"The definition of {code} is not a valid measure (items, scoring, range, MCID).")
        self.session.add(OutcomeMeasure(
            code=code, name=_text(spec.get("name"), "measure name", 120), items="\n".join(items),
            item_min=int(spec["item_min"]), item_max=int(spec["item_max"]), scoring=spec["scoring"],
            mcid=float(spec["mcid"]), higher_is_better=bool(spec.get("higher_is_better", True)),
        ))
        self.session.flush()

    def allergy(self, entry: dict, resource: dict) -> str:
        patient_id = self.local(resource.get("patient"), "Patient")
        substance = _text((resource.get("code") or {}).get("text"), "allergy substance", 80)
        reactions = [m.get("text") for r in resource.get("reaction") or [] for m in r.get("manifestation") or [] if m.get("text")]
        status = (((resource.get("clinicalStatus") or {}).get("coding") or [{}])[0]).get("code", "active")
        recorded = _parse_instant(resource.get("recordedDate"), "recordedDate")
        row = self.session.exec(select(PatientAllergy).where(
            PatientAllergy.patient_id == patient_id, PatientAllergy.substance == substance, PatientAllergy.recorded_at == recorded,
        )).first()
        if row is None:  # an allergy already on the chart is not recorded twice
            row = PatientAllergy(patient_id=patient_id, substance=substance, reaction="; ".join(reactions)[:120],
                                 active=status == "active", recorded_by_user_id=self.recorder(), recorded_at=recorded)
            self.session.add(row)
            self.session.flush()
        self.remember(entry, resource, row.id)
        return f"AllergyIntolerance/{row.id}"

    def medication(self, entry: dict, resource: dict) -> str:
        patient_id = self.local(resource.get("subject"), "Patient")
        name = _text((resource.get("medicationCodeableConcept") or {}).get("text"), "medication name", 80)
        recorded = _parse_instant(resource.get("dateAsserted"), "dateAsserted")
        row = self.session.exec(select(PatientMedication).where(
            PatientMedication.patient_id == patient_id, PatientMedication.name == name, PatientMedication.recorded_at == recorded,
        )).first()
        if row is None:
            drug_class = (_ext(resource, EXT_DRUG_CLASS) or {}).get("valueString") or "other"
            dose = next((d.get("text") for d in resource.get("dosage") or [] if d.get("text")), "")
            row = PatientMedication(patient_id=patient_id, name=name, drug_class=str(drug_class)[:40], dose=str(dose)[:80],
                                    active=resource.get("status") == "active", recorded_by_user_id=self.recorder(),
                                    recorded_at=recorded)
            self.session.add(row)
            self.session.flush()
        self.remember(entry, resource, row.id)
        return f"MedicationStatement/{row.id}"

    def coverage(self, entry: dict, resource: dict) -> str:
        patient_id = self.local(resource.get("beneficiary"), "Patient")
        payor = (resource.get("payor") or [{}])[0]
        payer_code = _text((payor.get("identifier") or {}).get("value"), "payer id (payor.identifier)", 80)
        payer = self.session.exec(select(Payer).where(Payer.payer_id == payer_code)).first()
        if payer is None:
            name = _text(payor.get("display"), "payer name (payor.display)", 60)
            if self.session.exec(select(Payer).where(Payer.name == name)).first() is not None:
                raise InvalidInput(f"A payer named {name!r} already exists here with another payer id than {payer_code!r}.")
            payer = Payer(name=name, payer_id=payer_code)
            self.session.add(payer)
            self.session.flush()
        period = resource.get("period") or {}
        start = _parse_date(period.get("start"), "period.start")
        member_id = _text(resource.get("subscriberId"), "subscriberId", 40)
        priority = int(resource.get("order") or 1)
        row = self.session.exec(select(Coverage).where(
            Coverage.patient_id == patient_id, Coverage.payer_id == payer.id, Coverage.member_id == member_id,
            Coverage.priority == priority, Coverage.effective_from == start,
        )).first()
        if row is None:
            found = _ext(resource, EXT_SUBSCRIBER)
            sub = json.loads(found.get("valueString") or "{}") if found else {}
            group = next((c.get("value") for c in resource.get("class") or []
                          if (((c.get("type") or {}).get("coding") or [{}])[0]).get("code") == "group"), "")
            relationship = (((resource.get("relationship") or {}).get("coding") or [{}])[0]).get("code") or "self"
            row = Coverage(
                patient_id=patient_id, payer_id=payer.id, member_id=member_id, group_number=str(group or "")[:40],
                priority=priority, relationship=str(relationship)[:8],
                subscriber_first_name=str(sub.get("first_name", ""))[:80], subscriber_last_name=str(sub.get("last_name", ""))[:80],
                subscriber_birth_date=_parse_date(sub["birth_date"], "subscriber birth date") if sub.get("birth_date") else None,
                address=str(sub.get("address", ""))[:55], city=str(sub.get("city", ""))[:30], state=str(sub.get("state", ""))[:2],
                zip_code=str(sub.get("zip_code", ""))[:9], effective_from=start,
                effective_to=_parse_date(period["end"], "period.end") if period.get("end") else None,
                active=resource.get("status") == "active",
            )
            self.session.add(row)
            self.session.flush()
        self.remember(entry, resource, row.id)
        return f"Coverage/{row.id}"


def _text(value, what: str, most: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"The {what} is missing.")
    if len(value.strip()) > most:
        raise InvalidInput(f"The {what} is too long (at most {most} characters).")
    return value.strip()


def _check_bundle(bundle) -> None:
    """A transaction or batch Bundle, valid FHIR R4 4.0.1 (services/interop/fhir/fhir_validate.py); InvalidInput otherwise."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidInput("Send a Bundle of type transaction (all or nothing) or batch (each entry on its own).")
    if bundle.get("type") not in ("transaction", "batch"):
        kind = str(bundle.get("type"))[:30]
        raise InvalidInput(f"A {kind} Bundle is not imported: send type transaction (all or nothing) or batch "
                           "(each entry on its own); nothing was imported.")
    entries = bundle.get("entry")
    if bundle["type"] == "batch" and isinstance(entries, list):
        # A batch's entries are checked one by one (import_batch): a bad one is refused on its own.
        shell = [{k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e for e in entries]
        fhir_validate.validate({**bundle, "entry": shell}, expected="Bundle", prefix="Nothing was imported. ")
        return
    try:
        fhir_validate.validate(bundle, expected="Bundle")
    except fhir_validate.InvalidResource as exc:
        found = re.match(r"Bundle\.entry\[(\d+)\]\.resource", exc.issues[0][0])
        where = ""
        if found and isinstance(entries, list) and int(found[1]) < len(entries):
            number = int(found[1])
            entry = entries[number] if isinstance(entries[number], dict) else {}
            resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else {}
            kind = resource.get("resourceType", "?")
            where = f"Entry {number + 1} ({str(kind)[:40]}): "
        raise fhir_validate.InvalidResource(exc.issues, prefix=where, suffix=" Nothing was imported.") from None


def _apply_entry(handlers: dict, number: int, entry: dict, resource: dict, tail: str) -> str | None:
    """Apply one bundle entry; a ClinicError naming the entry (and ending with ``tail``) if it is refused."""
    handler = handlers.get(resource["resourceType"])
    where = f"Entry {number} ({resource['resourceType']})"
    try:
        return handler(entry, resource) if handler else None
    except ClinicError as exc:
        raise type(exc)(f"{where}: {exc} {tail}".strip()) from exc
    except DBAPIError as exc:
        # A database rule (alembic 0001: overlaps, signed notes) or a column limit.
        mapped = from_db_error(exc)
        if mapped is not None:
            raise type(mapped)(f"{where}: {mapped} {tail}".strip()) from exc
        raise InvalidInput(
            f"{where} breaks a rule of the clinic's data (a duplicate, a value too long or a missing link). {tail}".strip()
        ) from exc
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        raise InvalidInput(f"{where} is missing or has a wrong element. {tail}".strip()) from exc


def import_batch(session: Session, *, actor: Actor | None, bundle: dict, source: str = "") -> dict:
    """Apply a FHIR batch Bundle: each entry on its own (http.html "batch"), a batch-response Bundle
    with one result per entry in the request's order: 201/200 with the location, or the status and
    an OperationOutcome saying why that entry was refused (the others are kept).

    Entries are applied in dependency order (locations before the visits at them), each in a
    savepoint; a signed note is signed with its own entry.
    """
    for_write(session)
    if actor is not None:
        require(actor.role, "fhir.import")
    entries = bundle.get("entry") or []
    importer = _Importer(session, actor, source)
    handlers = importer.handlers()
    order = {kind: i for i, kind in enumerate(IMPORT_ORDER)}
    results: dict[int, dict] = {}
    indexed = []
    for number, entry in enumerate(entries, start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind not in order:
            results[number] = _entry_refused(400, f"Entry {number}: this server imports only {', '.join(IMPORT_ORDER)}.")
            continue
        indexed.append((order[kind], number, entry, resource))
        if isinstance(entry.get("fullUrl"), str):
            importer.url_kinds[entry["fullUrl"]] = kind
    done = 0
    for _, number, entry, resource in sorted(indexed, key=lambda x: (x[0], x[1])):
        try:
            fhir_validate.validate(resource, prefix=f"Entry {number} ({resource['resourceType']}): ",
                                   path=f"Bundle.entry[{number - 1}].resource")
            with session.begin_nested():
                location = _apply_entry(handlers, number, entry, resource, "")
                importer.sign_notes()
            results[number] = {"response": {"status": "201 Created", "location": location} if location else {"status": "200 OK"}}
            done += 1
        except ClinicError as exc:
            results[number] = _entry_refused(_entry_status(exc), str(exc), getattr(exc, "issues", None))
        finally:
            importer.to_sign = []
    audit.record(session, actor=actor, action="import", entity="clinic", source=source,
                 detail=f"FHIR batch of {len(entries)} entries: {done} applied, {len(entries) - done} refused")
    session.flush()
    return {"resourceType": "Bundle", "type": "batch-response", "entry": [results[n] for n in range(1, len(entries) + 1)]}


def _entry_status(exc: ClinicError) -> int:
    from clinic_app.services.platform.errors import IllegalTransition, NotAllowed, NoteAlreadySigned, SlotTaken

    for kind, status in ((NotFound, 404), (NotAllowed, 403), (SlotTaken, 409), (IllegalTransition, 409), (NoteAlreadySigned, 409)):
        if isinstance(exc, kind):
            return status
    return 400


def _entry_refused(status: int, message: str, issues: list[tuple[str, str]] | None = None) -> dict:
    words = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
    issue = {"severity": "error", "code": "invalid" if status == 400 else "processing", "diagnostics": message}
    if issues:
        issue["expression"] = [path for path, _ in issues]
    return {"response": {"status": f"{status} {words.get(status, '')}".strip(),
                         "outcome": {"resourceType": "OperationOutcome", "issue": [issue]}}}


def import_bundle(session: Session, *, actor: Actor | None, bundle: dict, source: str = "") -> dict:
    """Apply a FHIR transaction Bundle all or nothing; a transaction-response Bundle.

    Patients are matched by MRN (updated if present), locations by name, practitioners
    by name and location, payers by payer id; visits, notes, charges, outcome measure scores
    (Observations), allergies, medications and coverages are added (an allergy, medication or
    coverage already on the patient's record is not added twice). Encounters and Conditions
    are derived from visits and notes, so they are accepted and skipped.
    """
    for_write(session)
    if actor is not None:
        require(actor.role, "fhir.import")
    _check_bundle(bundle)
    if bundle["type"] == "batch":
        return import_batch(session, actor=actor, bundle=bundle, source=source)
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidInput("The bundle's entry must be a list.")
    importer = _Importer(session, actor, source)
    handlers = importer.handlers()
    order = {kind: i for i, kind in enumerate(IMPORT_ORDER)}
    indexed = []
    for number, entry in enumerate(entries, start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(kind, str) or kind not in order:
            raise InvalidInput(f"Entry {number}: this server imports only {', '.join(IMPORT_ORDER)}; nothing was imported.")
        indexed.append((order[kind], number, entry, resource))
        if isinstance(entry.get("fullUrl"), str):
            importer.url_kinds[entry["fullUrl"]] = kind
    results: dict[int, str | None] = {}
    for _, number, entry, resource in sorted(indexed, key=lambda x: (x[0], x[1])):
        results[number] = _apply_entry(handlers, number, entry, resource, "Nothing was imported.")
    try:
        importer.sign_notes()
    except DBAPIError as exc:
        raise InvalidInput("A signed note of the bundle could not be signed here; nothing was imported.") from exc
    audit.record(session, actor=actor, action="import", entity="clinic", source=source,
                 detail=f"FHIR transaction of {len(entries)} entries")
    session.flush()
    return {
        "resourceType": "Bundle", "type": "transaction-response",
        "entry": [
            {"response": {"status": "201 Created", "location": results[n]} if results.get(n) else {"status": "200 OK"}}
            for n in range(1, len(entries) + 1)
        ],
    }



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
