"""FHIR R4 mapping: the clinic's rows as resources, and the shared constants and value helpers.

Resource ids are the rows' ids, except Location: sites are ``<id>``, rooms ``room-<id>`` (a room
is a Location that is part of its site), and the one Organization, the clinic, is ``clinic``.
Encounter and Claim ids are the visit's (appointment's) id; DocumentReference ids the note's;
Condition ids the note diagnosis row's.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from decimal import Decimal

from clinic_app import settings
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
    Payer,
    Provider,
    Room,
)
from clinic_app.services.charting.codes import describe_icd10
from clinic_app.services.platform.clock import local_day
from clinic_app.services.platform.errors import InvalidInput

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
def instant(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if moment else None


# What the clinic stores: times of visits, notes and records (and birth dates) in these years.
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def parse_instant(text, what: str) -> dt.datetime:
    """A date-time with a zone, as UTC; InvalidInput (never OverflowError) outside 1900-2199."""
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be a date and time with a zone, e.g. 2030-03-12T14:00:00Z.")
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{what} {text[:40]!r} is not a date and time (e.g. 2030-03-12T14:00:00Z).") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{what} has no time zone; add Z or an offset such as -05:00.")
    utc = to_utc(moment)
    if not EARLIEST <= utc < LATEST:
        raise InvalidInput(f"{what} {text[:40]!r} is out of range: the clinic keeps times from 1900 to 2199.")
    return utc


def to_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC, held at Python's smallest or largest time when the offset takes it past them
    (0001-01-01T00:00:00+14:00 is before datetime.min in UTC)."""
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        return _MIN if moment.year < 5000 else MAX_MOMENT


_MIN = dt.datetime.min.replace(tzinfo=dt.UTC)
MAX_MOMENT = dt.datetime.max.replace(tzinfo=dt.UTC)


def plus_step(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    try:
        return moment + step
    except OverflowError:
        return MAX_MOMENT


def parse_date(text, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} must be a date such as 2030-03-12.") from None


def _money(cents: int) -> dict:
    return {"value": float(Decimal(cents) / 100), "currency": "USD"}


def cents_of_money(money, what: str) -> int:
    try:
        value = Decimal(str(money["value"]))
    except (KeyError, TypeError, ArithmeticError):
        raise InvalidInput(f"{what} needs a money value.") from None
    return int((value * 100).to_integral_value())


def _meta(*moments: dt.datetime | None) -> dict:
    """``meta.lastUpdated``: the latest of the times the resource is made from (the server
    keeps no versions: no versionId, see the CapabilityStatement)."""
    known = [m for m in moments if m is not None]
    return {"meta": {"lastUpdated": instant(max(known))}} if known else {}


def _ref(kind: str, ident) -> dict:
    return {"reference": f"{kind}/{ident}"}


def _procedure_system(code: str) -> str:
    return CPT_SYSTEM if code[:1] in "0123456789" else HCPCS_SYSTEM


def extension_of(resource: dict, url: str) -> dict | None:
    return next((e for e in resource.get("extension") or [] if isinstance(e, dict) and e.get("url") == url), None)


def is_row_id(text) -> bool:
    """Whether ``text`` is a row id: ASCII digits only (str.isdigit also takes '¹'), and not huge."""
    return isinstance(text, str) and ROW_ID_RE.match(text) is not None


def id_of_reference(reference, kind: str) -> int | None:
    """The row id in ``Kind/123`` (or ``123``); None if it is not one of ours."""
    if not isinstance(reference, str):
        return None
    text = reference.strip()
    if "/" in text:
        head, _, text = text.rpartition("/")
        if head.rsplit("/", 1)[-1] != kind:
            return None
    return int(text) if is_row_id(text) else None


def room_id_of_reference(reference) -> int | None:
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
        extension.append({"url": EXT_ARRIVED_AT, "valueInstant": instant(appointment.arrived_at)})
    if appointment.session_started_at:
        extension.append({"url": EXT_SESSION_STARTED_AT, "valueInstant": instant(appointment.session_started_at)})
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
        "start": instant(appointment.starts_at), "end": instant(appointment.ends_at),
        "minutesDuration": int((appointment.ends_at - appointment.starts_at).total_seconds() // 60),
        "created": instant(appointment.created_at), "participant": participants,
    }
    if appointment.cancel_reason:
        resource["cancelationReason"] = {"text": appointment.cancel_reason}
    return resource


def encounter_resource(appointment: Appointment, kind: AppointmentType) -> dict:
    period = {"start": instant(appointment.arrived_at or appointment.starts_at)}
    if ENCOUNTER_STATUS[appointment.status] == "finished":
        period["end"] = instant(appointment.ends_at)
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
        "encounter": _ref("Encounter", note.appointment_id), "recordedDate": instant(note.signed_at),
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
        "subject": _ref("Patient", note.patient_id), "date": instant(note.signed_at or note.updated_at),
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
        "billablePeriod": {"start": instant(appointment.starts_at), "end": instant(appointment.ends_at)},
        "created": instant(min(c.created_at for c in charges)), "provider": _ref("Organization", ORG_ID),
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
        "effectiveDateTime": instant(result.recorded_at), "performer": [_ref("Practitioner", note.provider_id)],
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
        "recordedDate": instant(allergy.recorded_at),
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
        "dateAsserted": instant(medication.recorded_at),
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


