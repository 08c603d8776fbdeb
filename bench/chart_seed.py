"""A clinician's busy day for the chart: 13 visits today, a 40-item record, an open note
of three days ago. Used by bench/chart_round_trip.py and the chart's e2e tests.

Rows are inserted with the models (the booking service refuses times in the past), for a
provider and patients of their own, so that nothing else booked in the database clashes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlmodel import Session, select

from clinic_app.db import utcnow
from clinic_app.models import (
    Appointment,
    AppointmentType,
    Attachment,
    HomeExercise,
    Location,
    Note,
    NoteDiagnosis,
    NoteForm,
    NoteProcedure,
    Patient,
    PatientAllergy,
    PatientMedication,
    PatientProblem,
    PlanGoal,
    Provider,
)
from clinic_app.services.platform import auth
from clinic_app.services.platform.clock import local_day, zone

SURNAMES = ("Abbott", "Baxter", "Castillo", "Dunn", "Ellison", "Farrow", "Gomez", "Hart", "Ibsen", "Jarvis", "Kemp",
            "Lowell", "Moreno", "Nash")
FIRST = ("Ava", "Ben", "Cleo", "Dev", "Edie", "Finn", "Gia", "Hal", "Iris", "Jon", "Kai", "Lena", "Milo", "Nora")
PROBLEMS = ("M54.50", "M25.561", "M17.11", "S83.241A", "M62.81", "G89.29", "M79.604", "R26.89", "M25.511", "M54.2")
ALLERGIES = (("Penicillin", "rash"), ("Latex", "hives"), ("Codeine", "nausea"), ("Sulfa", "rash"),
             ("Adhesive tape", "redness"), ("Shellfish", "swelling"))
MEDICATIONS = (("Ibuprofen", "NSAID", "400 mg"), ("Metformin", "other", "500 mg"), ("Lisinopril", "other", "10 mg"),
               ("Atorvastatin", "other", "20 mg"), ("Omeprazole", "other", "20 mg"), ("Sertraline", "SSRI", "50 mg"),
               ("Levothyroxine", "other", "75 mcg"), ("Amlodipine", "other", "5 mg"),
               ("Gabapentin", "gabapentinoid", "300 mg"), ("Vitamin D", "other", "1000 IU"))
GOALS = ("Walk 1 km without pain", "Climb stairs step over step", "Return to gardening", "Sleep through the night",
         "Lift a 10 kg box", "Drive 30 minutes")
EXERCISES = (("Bridges", "3 x 10"), ("Clamshells", "3 x 15"), ("Heel raises", "3 x 12"), ("Wall squats", "3 x 30 s"),
             ("Bird dog", "2 x 10"), ("Hamstring stretch", "3 x 30 s"))
# A 1x1 grey PNG: a real image, so the chart's viewer can show it.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
    "0000000a4944415478da636800000082008176e0c4ef0000000049454e44ae426082"
)


@dataclass
class ChartDay:
    """What was seeded: the clinician's sign-in and the visits by what they are for."""

    username: str
    password: str
    provider_id: int
    day: dt.date
    visits: list[int]  # today's 13, in time order
    starts: list[str] = field(default_factory=list)  # their local start times, "08:00"...
    names: list[str] = field(default_factory=list)  # their patients, "Abbott, Ava"...
    earlier: int = 0  # three days ago, in session, the note written but not signed
    earlier_name: str = ""
    record_patient: int = 0  # the patient with a 40-item record (today's visit 5)


def seed_chart_day(
    engine, *, username: str = "chart.clin", password: str = "chart-password-1", provider_name: str = "Casey Chart, PT",
    location_name: str | None = None,
) -> ChartDay:
    """13 visits today for a clinician of their own (08:00 to 14:00, every 30 minutes):
    0-3 in session with an empty note, a diagnosis and a procedure; 4 in session with some
    text and the physiotherapy daily note template; 5 in session with 38 minutes of 97110
    billed as 2 units (signing is refused) and a patient with a 40-item record (10 problems,
    6 allergies, 10 medications, 6 goals, 6 exercises, 2 attachments); 6 arrived; 7-12
    booked. Plus a visit three days ago, in session, its note written and not signed."""
    with Session(engine, expire_on_commit=False) as s:
        location = (s.exec(select(Location).where(Location.name == location_name)).one() if location_name
                    else s.exec(select(Location).order_by(Location.id)).first())
        kind = s.exec(select(AppointmentType).where(AppointmentType.name == "Treatment")).first()
        if kind is None:
            kind = AppointmentType(name="Treatment", duration_minutes=30)
            s.add(kind)
        provider = Provider(name=provider_name, discipline="physiotherapy", location_id=location.id)
        s.add(provider)
        s.flush()
        user = auth.create_user(s, actor=None, username=username, full_name=provider_name.split(",")[0],
                                password=password, role="clinician", provider_id=provider.id, location_id=location.id)
        tz = zone(location.timezone)
        today = local_day(utcnow(), location.timezone)
        tag = username.replace(".", "").replace("_", "")[:6].upper()
        patients = [Patient(mrn=f"{tag}{i:02d}", first_name=FIRST[i], last_name=SURNAMES[i],
                            birth_date=dt.date(1960 + i, 1 + i % 12, 1 + i)) for i in range(14)]
        s.add_all(patients)
        s.flush()

        def visit(patient: Patient, day: dt.date, hhmm: str, status: str) -> Appointment:
            starts = dt.datetime.combine(day, dt.time.fromisoformat(hhmm), tzinfo=tz).astimezone(dt.UTC)
            appointment = Appointment(
                patient_id=patient.id, provider_id=provider.id, location_id=location.id, room_id=None,
                appointment_type_id=kind.id, starts_at=starts, ends_at=starts + dt.timedelta(minutes=30), status=status,
                arrived_at=starts - dt.timedelta(minutes=5) if status != "booked" else None,
                session_started_at=starts if status == "in_session" else None,
            )
            s.add(appointment)
            s.flush()
            return appointment

        def note(appointment: Appointment, subjective: str = "", dx: str = "M54.50", procedure=("97110", 1, None)) -> Note:
            row = Note(appointment_id=appointment.id, patient_id=appointment.patient_id, provider_id=provider.id,
                       subjective=subjective)
            s.add(row)
            s.flush()
            s.add(NoteDiagnosis(note_id=row.id, code=dx))
            code, units, minutes = procedure
            s.add(NoteProcedure(note_id=row.id, code=code, units=units, minutes=minutes))
            return row

        starts = [f"{8 + i // 2:02d}:{30 * (i % 2):02d}" for i in range(13)]
        visits = []
        for i, hhmm in enumerate(starts):
            status = "in_session" if i <= 5 else "arrived" if i == 6 else "booked"
            appointment = visit(patients[i], today, hhmm, status)
            visits.append(appointment.id)
            if i <= 3:
                note(appointment, procedure=("97110", 1, 15))
            elif i == 4:
                written = note(appointment, subjective="Knee pain 3/10 after the weekend.", procedure=("97110", 1, 15))
                s.add(NoteForm(note_id=written.id, template_code="PT-DAILY"))
            elif i == 5:
                note(appointment, subjective="Low back pain 5/10, worse sitting.", procedure=("97110", 2, 38))
        earlier = visit(patients[13], today - dt.timedelta(days=3), "10:00", "in_session")
        note(earlier, subjective="Shoulder pain 6/10 reaching overhead.", dx="M25.511", procedure=("97110", 1, 15))

        record = patients[5]
        who = {"patient_id": record.id, "recorded_by_user_id": user.id}
        s.add_all([PatientProblem(code=c, **who) for c in PROBLEMS])
        s.add_all([PatientAllergy(substance=a, reaction=r, **who) for a, r in ALLERGIES])
        s.add_all([PatientMedication(name=n, drug_class=c, dose=d, **who) for n, c, d in MEDICATIONS])
        s.add_all([PlanGoal(term="short" if i % 2 else "long", text=t, target_date=today + dt.timedelta(days=30 + i), **who)
                   for i, t in enumerate(GOALS)])
        s.add_all([HomeExercise(name=n, dosage=d, **who) for n, d in EXERCISES])
        for name in ("referral.png", "xray-report.png"):
            data = PNG + name.encode()  # distinct bytes: the same file twice is refused
            s.add(Attachment(patient_id=record.id, filename=name, content_type="image/png", size_bytes=len(data),
                             sha256=hashlib.sha256(data).hexdigest(), data=data, uploaded_by_user_id=user.id))
        s.commit()
        return ChartDay(
            username=username, password=password, provider_id=provider.id, day=today, visits=visits, starts=starts,
            names=[f"{p.last_name}, {p.first_name}" for p in patients[:13]], earlier=earlier.id,
            earlier_name=f"{patients[13].last_name}, {patients[13].first_name}", record_patient=record.id,
        )
