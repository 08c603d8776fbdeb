"""FHIR R4 writes: create/update Patient and Appointment, and the import of batch and transaction
Bundles (a transaction all or nothing: its caller owns the transaction)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Callable

from sqlalchemy import func
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

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
from clinic_app.services.charting.measures import BUILTIN as BUILTIN_MEASURES
from clinic_app.services.charting.measures import definition as measure_definition
from clinic_app.services.charting.measures import score as score_measure
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.interop.fhir import fhir_validate
from clinic_app.services.interop.fhir.mapping import (
    APPOINTMENT_MOVES,
    APPOINTMENT_STATUS,
    EXT_ARRIVED_AT,
    EXT_DRUG_CLASS,
    EXT_LOCATION,
    EXT_MEASURE_DEFINITION,
    EXT_SESSION_STARTED_AT,
    EXT_SUBSCRIBER,
    EXT_VISIT_STATUS,
    GENDERS,
    IMPORT_USERNAME,
    MEASURE_SYSTEM,
    MRN_RE,
    MRN_SYSTEM,
    NOTE_JSON,
    NPI_SYSTEM,
    PATIENT_FIELDS_MAX,
    TZ_EXTENSION,
    appointment_resource,
    cents_of_money,
    extension_of,
    id_of_reference,
    parse_date,
    parse_instant,
    room_id_of_reference,
)
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import (
    ClinicError,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NoteAlreadySigned,
    NotFound,
    SlotTaken,
    from_db_error,
)
from clinic_app.services.platform.permissions import require


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
            key = "Room" if kind == "Location" and room_id_of_reference(reference) is not None else kind
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
    patient_id = id_of_reference(refs.get("Patient"), "Patient")
    provider_id = id_of_reference(refs.get("Practitioner"), "Practitioner")
    if patient_id is None:
        raise InvalidInput("Name the patient as a participant (actor Patient/<id>).")
    if provider_id is None:
        raise InvalidInput("Name the practitioner as a participant (actor Practitioner/<id>).")
    room_id = room_id_of_reference(refs.get("Room")) if "Room" in refs else None
    kind = _appointment_type(session, resource)
    starts_at = parse_instant(resource.get("start"), "start")
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
    if start is not None and parse_instant(start, "start") != appointment.starts_at:
        raise InvalidInput("The time cannot be changed through the API; cancel this visit and book a new one.")
    refs = _participants(resource)
    if refs.get("Patient") and id_of_reference(refs["Patient"], "Patient") != appointment.patient_id:
        raise InvalidInput("The patient of a visit cannot be changed; cancel it and book a new one.")
    if refs.get("Practitioner") and id_of_reference(refs["Practitioner"], "Practitioner") != appointment.provider_id:
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
            existing = id_of_reference(ref, kind)
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
        tz = (extension_of(resource, TZ_EXTENSION) or {}).get("valueCode") or "America/New_York"
        if site is None:
            site = Location(name=name, timezone=tz, address=str((resource.get("address") or {}).get("text", ""))[:250],
                            active=resource.get("status") != "inactive")
            self.session.add(site)
            self.session.flush()
        self.remember(entry, resource, site.id)
        return f"Location/{site.id}"

    def practitioner(self, entry: dict, resource: dict) -> str:
        name = _text(((resource.get("name") or [{}])[0] or {}).get("text"), "practitioner name", 120)
        site = self.local((extension_of(resource, EXT_LOCATION) or {}).get("valueReference"), "Location")
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
            room_id = self.ids.get(key) or room_id_of_reference(room_ref)
        starts_at = parse_instant(resource.get("start"), "start")
        ends_at = parse_instant(resource.get("end"), "end")
        status = (extension_of(resource, EXT_VISIT_STATUS) or {}).get("valueCode")
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
            found = extension_of(resource, url)
            if found:
                extra[field] = parse_instant(found.get("valueInstant"), field.replace("_", " "))
        appointment = Appointment(
            patient_id=patient_id, provider_id=provider_id, location_id=provider.location_id, room_id=room_id,
            appointment_type_id=kind.id, starts_at=starts_at, ends_at=ends_at, status=status,
            cancel_reason=str((resource.get("cancelationReason") or {}).get("text", ""))[:200],
            created_at=parse_instant(resource["created"], "created") if resource.get("created") else utcnow(), **extra,
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
            self.to_sign.append((note, parse_instant(resource.get("date"), "date")))
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
        created = parse_instant(resource.get("created"), "created")
        for item in items:
            coding = ((item.get("productOrService") or {}).get("coding") or [{}])[0]
            self.session.add(Charge(
                appointment_id=appointment_id, note_id=note.id, line_no=int(item["sequence"]), code=str(coding.get("code", ""))[:5],
                units=int((item.get("quantity") or {}).get("value", 1)), unit_price_cents=cents_of_money(item.get("unitPrice"), "unitPrice"),
                amount_cents=cents_of_money(item.get("net"), "net"), created_at=created,
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
            recorded_at=parse_instant(resource.get("effectiveDateTime"), "effectiveDateTime"),
        )
        self.session.add(result)
        self.session.flush()
        self.remember(entry, resource, result.id)
        return f"Observation/{result.id}"

    def _ensure_measure(self, code: str, resource: dict) -> None:
        """A clinic-defined measure missing here is recreated from the definition its Observation carries."""
        if code in BUILTIN_MEASURES or self.session.exec(select(OutcomeMeasure).where(OutcomeMeasure.code == code)).first():
            return
        found = extension_of(resource, EXT_MEASURE_DEFINITION)
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
        recorded = parse_instant(resource.get("recordedDate"), "recordedDate")
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
        recorded = parse_instant(resource.get("dateAsserted"), "dateAsserted")
        row = self.session.exec(select(PatientMedication).where(
            PatientMedication.patient_id == patient_id, PatientMedication.name == name, PatientMedication.recorded_at == recorded,
        )).first()
        if row is None:
            drug_class = (extension_of(resource, EXT_DRUG_CLASS) or {}).get("valueString") or "other"
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
        start = parse_date(period.get("start"), "period.start")
        member_id = _text(resource.get("subscriberId"), "subscriberId", 40)
        priority = int(resource.get("order") or 1)
        row = self.session.exec(select(Coverage).where(
            Coverage.patient_id == patient_id, Coverage.payer_id == payer.id, Coverage.member_id == member_id,
            Coverage.priority == priority, Coverage.effective_from == start,
        )).first()
        if row is None:
            found = extension_of(resource, EXT_SUBSCRIBER)
            sub = json.loads(found.get("valueString") or "{}") if found else {}
            group = next((c.get("value") for c in resource.get("class") or []
                          if (((c.get("type") or {}).get("coding") or [{}])[0]).get("code") == "group"), "")
            relationship = (((resource.get("relationship") or {}).get("coding") or [{}])[0]).get("code") or "self"
            row = Coverage(
                patient_id=patient_id, payer_id=payer.id, member_id=member_id, group_number=str(group or "")[:40],
                priority=priority, relationship=str(relationship)[:8],
                subscriber_first_name=str(sub.get("first_name", ""))[:80], subscriber_last_name=str(sub.get("last_name", ""))[:80],
                subscriber_birth_date=parse_date(sub["birth_date"], "subscriber birth date") if sub.get("birth_date") else None,
                address=str(sub.get("address", ""))[:55], city=str(sub.get("city", ""))[:30], state=str(sub.get("state", ""))[:2],
                zip_code=str(sub.get("zip_code", ""))[:9], effective_from=start,
                effective_to=parse_date(period["end"], "period.end") if period.get("end") else None,
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



