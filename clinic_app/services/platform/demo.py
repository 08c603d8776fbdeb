"""The demo clinic: two locations, six providers, 300 patients and two weeks of visits.

Seeded, so the same day gives the same clinic. Visits are spread over the week before
and after today in every status a real clinic day has.
"""

from __future__ import annotations

import datetime as dt
import random

from faker import Faker
from sqlmodel import Session, func, select

from clinic_app.db import utcnow
from clinic_app.models import (
    Appointment,
    AppointmentEvent,
    AppointmentType,
    Charge,
    Fee,
    Location,
    Note,
    NoteDiagnosis,
    NoteProcedure,
    Patient,
    Provider,
    ProviderHours,
    ProviderTimeOff,
    Room,
    User,
)
from clinic_app.services.charting.codes import npi_check_digit
from clinic_app.services.platform import demo_billing, demo_remit
from clinic_app.services.platform.auth import hash_password
from clinic_app.services.platform.clock import zone

SEED = 2026
DEMO_PASSWORD = "clinic-demo"

LOCATIONS = [
    ("Riverside Physio & Rehab", "America/New_York", "120 River Rd, Albany, NY 12207"),
    ("Lakeside Chiro & Therapy", "America/Chicago", "45 Lake St, Madison, WI 53703"),
]
PROVIDERS = [
    (0, "Dana Whitfield, PT", "physiotherapy"),
    (0, "Marcus Oyelaran, PT", "physiotherapy"),
    (0, "Priya Raman, OT", "occupational therapy"),
    (1, "Sofia Lindqvist, DC", "chiropractic"),
    (1, "Tom Okafor, PsyD", "psychotherapy"),
    (1, "Hannah Brooks, PT", "physiotherapy"),
]
TYPES = [
    ("Initial evaluation", 60, "violet"),
    ("Treatment", 30, "blue"),
    ("Re-evaluation", 45, "teal"),
    ("Short follow-up", 15, "amber"),
]
# Codes the demo clinic bills, with prices in cents. No CPT descriptions are shipped
# (AMA licence); the HCPCS Level II text is public.
FEES = [
    ("97161", 15000, False, ""),
    ("97110", 4500, True, ""),
    ("97140", 4200, True, ""),
    ("97112", 4600, True, ""),
    ("97530", 4800, True, ""),
    ("97165", 14000, False, ""),
    ("98941", 5500, False, ""),
    ("90834", 13000, False, ""),
    ("G0283", 1800, False, "Electrical stimulation, unattended"),
]
DISCIPLINE_CODES = {
    "physiotherapy": (["M54.50", "M25.561", "M25.511", "S93.401A", "M17.11", "M54.16"], ["97110", "97140", "97112"]),
    "occupational therapy": (["M62.81", "M75.101", "M25.511"], ["97530", "97110"]),
    "chiropractic": (["M54.2", "M54.50", "M54.6", "S13.4XXA"], ["98941", "97140", "G0283"]),
    "psychotherapy": (["F41.1", "F43.10"], ["90834"]),
}
EVAL_CODE = {"physiotherapy": "97161", "occupational therapy": "97165"}
SOAP = {
    "subjective": [
        "Reports pain 4/10, better than last visit. Sleeping through the night.",
        "Pain worse after gardening at the weekend, 6/10. No new numbness.",
        "Feels stronger; managed stairs at home without the rail.",
    ],
    "objective": [
        "AROM improved 10 degrees. Strength 4/5. Gait steady without aid.",
        "Tender over the paraspinals; SLR negative bilaterally.",
        "Completed the exercise circuit with good form; no compensation seen.",
    ],
    "assessment": [
        "Progressing toward goals; tolerating load well.",
        "Flare-up settling; continue plan with lower load this week.",
    ],
    "plan": [
        "Continue twice weekly; progress home exercises.",
        "Reassess in two weeks; add balance work.",
    ],
}
# Working hours per weekday (Monday = 0): weekdays 08:00-18:00, Saturdays 08:00-13:00. Riverside
# keeps Sunday hours with two of its physiotherapists, so that the demo shows a working board
# whatever day it is tried; Lakeside is closed on Sundays (its board says so).
WEEKDAY_HOURS = dict.fromkeys(range(5), (8 * 60, 18 * 60)) | {5: (8 * 60, 13 * 60)}
SUNDAY_HOURS = (9 * 60, 14 * 60)
SUNDAY_PROVIDERS = (0, 1)


def hours_of(provider_index: int, weekday: int) -> tuple[int, int] | None:
    """The demo provider's working window on a weekday (None: not working)."""
    if weekday == 6:
        return SUNDAY_HOURS if provider_index in SUNDAY_PROVIDERS else None
    return WEEKDAY_HOURS[weekday]


USERS = [
    ("reception", "Rita Alvarez", "reception", None, 0),
    ("reception2", "Leo Martins", "reception", None, 1),
    ("biller", "Bea Kowalski", "biller", None, 0),
    ("manager", "Morgan Hale", "manager", None, 0),
    ("admin", "Ada Ncube", "admin", None, 0),
    *[
        (("clinician" if i == 0 else f"clinician{i + 1}"), PROVIDERS[i][1].split(",")[0], "clinician", i, PROVIDERS[i][0])
        for i in range(len(PROVIDERS))
    ],
]


def is_empty(session: Session) -> bool:
    """Whether the database holds no clinic yet."""
    return session.exec(select(func.count()).select_from(Location)).one() == 0


def load(session: Session, *, today: dt.date | None = None, patients: int = 300, now: dt.datetime | None = None) -> dict:
    """Load the demo clinic into an empty database; returns what was made."""
    now = now or utcnow()
    rnd = random.Random(SEED)
    fake = Faker("en_US")
    fake.seed_instance(SEED)

    locations = [Location(name=n, timezone=tz, address=a) for n, tz, a in LOCATIONS]
    session.add_all(locations)
    session.flush()
    today = today or now.astimezone(zone(LOCATIONS[0][1])).date()
    rooms = {
        loc.id: [Room(location_id=loc.id, name=f"Room {i}") for i in (1, 2, 3)] for loc in locations
    }
    session.add_all([r for rs in rooms.values() for r in rs])
    providers = []
    for loc_index, name, discipline in PROVIDERS:
        first_nine = f"1{rnd.randrange(10**8):08d}"
        providers.append(
            Provider(
                name=name,
                discipline=discipline,
                npi=first_nine + str(npi_check_digit(first_nine)),
                location_id=locations[loc_index].id,
            )
        )
    session.add_all(providers)
    types = [AppointmentType(name=n, duration_minutes=d, color=c) for n, d, c in TYPES]
    session.add_all(types)
    session.add_all([Fee(code=c, amount_cents=a, timed=t, description=d) for c, a, t, d in FEES])
    session.flush()
    # Working hours (above), and one provider away on a course just after the demo fortnight.
    session.add_all(
        ProviderHours(provider_id=p.id, weekday=d, start_minute=window[0], end_minute=window[1])
        for i, p in enumerate(providers)
        for d in range(7)
        if (window := hours_of(i, d)) is not None
    )
    course = dt.datetime.combine(today + dt.timedelta(days=8), dt.time(9), tzinfo=zone(LOCATIONS[0][1]))
    session.add(ProviderTimeOff(provider_id=providers[0].id, starts_at=course.astimezone(dt.UTC),
                                ends_at=(course + dt.timedelta(hours=8)).astimezone(dt.UTC), reason="Course"))

    password_hash = hash_password(DEMO_PASSWORD)
    for username, full_name, role, provider_index, loc_index in USERS:
        session.add(
            User(
                username=username,
                full_name=full_name,
                role=role,
                password_hash=password_hash,
                provider_id=providers[provider_index].id if provider_index is not None else None,
                location_id=locations[loc_index].id,
            )
        )

    people = [
        Patient(
            mrn=f"MRN{100001 + n}",
            first_name=fake.first_name(),
            last_name=fake.last_name(),
            birth_date=fake.date_of_birth(minimum_age=8, maximum_age=92),
            phone=fake.numerify("(###) ###-####"),
            email=fake.free_email(),
        )
        for n in range(patients)
    ]
    session.add_all(people)
    session.flush()
    demo_billing.load(session, locations=locations, people=people, today=today)
    fees = {f.code: f for f in session.exec(select(Fee))}

    count = 0
    busy: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    to_bill: list[int] = []  # past visits the demo's biller claims (or bills) after the fact
    for day_offset in range(-7, 8):
        day = today + dt.timedelta(days=day_offset)
        for p_index, provider in enumerate(providers):
            window = hours_of(p_index, day.weekday())
            if window is None:
                continue
            location = locations[PROVIDERS[p_index][0]]
            room = rooms[location.id][p_index % 3]
            count += _provider_day(
                session, rnd=rnd, now=now, day=day, window=window, provider=provider, location=location, room=room,
                types=types, people=people, fees=fees, busy=busy, to_bill=to_bill,
            )
    session.flush()
    money = demo_remit.load(session, appointment_ids=to_bill, now=now)
    return {"locations": len(locations), "providers": len(providers), "patients": len(people), "appointments": count,
            **money}


def _provider_day(session, *, rnd, now, day, window, provider, location, room, types, people, fees, busy, to_bill) -> int:
    tz = zone(location.timezone)
    opening, closing_minute = window
    clock = dt.datetime.combine(day, dt.time(opening // 60, opening % 60), tzinfo=tz)
    # The last hour of the day is left free for walk-ins and same-day bookings.
    closing = dt.datetime.combine(day, dt.time((closing_minute - 60) // 60, 0), tzinfo=tz)
    made = 0
    while True:
        kind = rnd.choices(types, weights=[1, 6, 1, 1])[0]
        start = clock.astimezone(dt.UTC)
        end = start + dt.timedelta(minutes=kind.duration_minutes)
        if clock + dt.timedelta(minutes=kind.duration_minutes) > closing:
            break
        clock += dt.timedelta(minutes=kind.duration_minutes)
        if rnd.random() < 0.25:  # a free slot
            continue
        status = _status_for(rnd, start, end, now)
        # A patient is never in two places at once (a database rule since 0004); with
        # few patients a slot may find nobody free, and stays empty.
        patient = rnd.choice(people)
        tries = 0
        while any(s < end and e > start for s, e in busy.get(patient.id, ())):
            tries += 1
            if tries > 20:
                break
            patient = rnd.choice(people)
        if tries > 20:
            continue
        busy.setdefault(patient.id, []).append((start, end))
        appointment = Appointment(
            patient_id=patient.id, provider_id=provider.id, location_id=location.id, room_id=room.id,
            appointment_type_id=kind.id, starts_at=start, ends_at=end,
            # A visit to be billed waits in the queue: the demo's biller claims it (demo_remit).
            status="ready_to_bill" if status == "billed" else status,
            created_at=start - dt.timedelta(days=rnd.randint(1, 20)),
        )
        if status in ("arrived", "in_session", "ready_to_bill", "billed"):
            appointment.arrived_at = start - dt.timedelta(minutes=rnd.randint(2, 15))
        if status in ("in_session", "ready_to_bill", "billed"):
            appointment.session_started_at = start + dt.timedelta(minutes=rnd.randint(0, 8))
        if status == "cancelled":
            appointment.cancel_reason = rnd.choice(["Patient unwell", "Work conflict", "Transport"])
        session.add(appointment)
        session.flush()
        _history(session, rnd, appointment, status)
        if status == "billed":
            to_bill.append(appointment.id)
        if status in ("in_session", "ready_to_bill", "billed"):
            _note(session, rnd, appointment, provider, kind, fees, signed=status != "in_session", now=now)
        made += 1
    return made


def _status_for(rnd, start, end, now) -> str:
    if start > now:
        return "cancelled" if rnd.random() < 0.08 else ("arrived" if start - now < dt.timedelta(minutes=20) else "booked")
    if end > now:  # under way
        return rnd.choice(["arrived", "in_session", "in_session"])
    roll = rnd.random()
    if roll < 0.07:
        return "no_show"
    if roll < 0.15:
        return "cancelled"
    if roll < 0.19:
        return "in_session"  # note still to sign
    if now - end < dt.timedelta(days=2) or roll < 0.27:
        return "ready_to_bill"
    return "billed"


def _history(session, rnd, appointment: Appointment, status: str) -> None:
    path = {
        "booked": ["booked"],
        "arrived": ["booked", "arrived"],
        "in_session": ["booked", "arrived", "in_session"],
        "ready_to_bill": ["booked", "arrived", "in_session", "ready_to_bill"],
        "billed": ["booked", "arrived", "in_session", "ready_to_bill", "billed"],
        "no_show": ["booked", "no_show"],
        "cancelled": ["booked", "cancelled"],
    }[status]
    previous = None
    for step in path:
        at = {
            "booked": appointment.created_at,
            "arrived": appointment.arrived_at,
            "in_session": appointment.session_started_at,
        }.get(step) or appointment.ends_at + dt.timedelta(minutes=rnd.randint(5, 90))
        if step == "billed":
            continue  # recorded when the biller claims the visit (the time drawn keeps the stream)
        session.add(AppointmentEvent(appointment_id=appointment.id, from_status=previous, to_status=step, at=at))
        previous = step


def _note(session, rnd, appointment, provider, kind, fees, *, signed: bool, now) -> None:
    dx_codes, proc_codes = DISCIPLINE_CODES[provider.discipline]
    note = Note(
        appointment_id=appointment.id, patient_id=appointment.patient_id, provider_id=provider.id,
        **{field: rnd.choice(texts) for field, texts in SOAP.items()},
        created_at=appointment.starts_at, updated_at=appointment.ends_at,
    )
    session.add(note)
    session.flush()
    dx = rnd.sample(dx_codes, k=min(len(dx_codes), rnd.randint(1, 2)))
    session.add_all([NoteDiagnosis(note_id=note.id, code=c) for c in dx])
    codes = [EVAL_CODE[provider.discipline]] if kind.name == "Initial evaluation" and provider.discipline in EVAL_CODE else []
    codes += rnd.sample(proc_codes, k=min(len(proc_codes), rnd.randint(1, 2)))
    lines = [(c, 1 if not fees[c].timed else rnd.randint(1, 3)) for c in dict.fromkeys(codes)]
    session.add_all([NoteProcedure(note_id=note.id, code=c, units=u) for c, u in lines])
    session.flush()
    if not signed:
        return
    signed_at = min(now, appointment.ends_at + dt.timedelta(minutes=rnd.choice([3, 10, 25, 60, 240])))
    note.signed_at = signed_at
    session.add(note)
    session.add_all(
        [
            Charge(
                appointment_id=appointment.id, note_id=note.id, line_no=i, code=c, units=u,
                unit_price_cents=fees[c].amount_cents, amount_cents=fees[c].amount_cents * u,
                diagnosis_codes=",".join(dx[:4]), created_at=signed_at,
            )
            for i, (c, u) in enumerate(lines, start=1)
        ]
    )
    session.flush()
