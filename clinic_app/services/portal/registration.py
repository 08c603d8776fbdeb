"""Patients registering themselves in the portal (/portal/register), where a location allows it.

1. ``register``: the patient's name, date of birth, e-mail, phone, location and password make
   an ``unverified`` registration and a one-time link (32 random bytes, only the SHA-256 kept,
   single use, VERIFY_HOURS). When the e-mail already signs in to the portal, nothing is stored
   and its owner is told instead: the page's answer is the same either way, so the form tells
   nobody which addresses have accounts. The password is hashed either way (same time taken).
2. ``verify``: the link marks the e-mail verified; the registration joins the desk's list.
3. The desk (``patient.register``) sees each verified registration with the patients on file
   it may be (``pending``), and either ``accept``s it (onto a new patient record, or linked to
   an existing one: the account then belongs to that patient and signs in at once with the
   password chosen) or ``decline``s it with a reason. Each decision is audited and e-mailed.

E-mails go through the invitations' SMTP sender after the caller's commit (``send``).
Registrations never confirmed, and those a newer one replaced, are forgotten a week after
their link expired (``forget_unconfirmed``, from the daily upkeep): a name, a birth date and a
password hash nobody confirmed are not kept. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.live import publish_on_commit
from clinic_app.live.events import RegistrationsChanged
from clinic_app.models import Location, OnlineBooking, Patient, PatientAccount, PortalRegistration, PortalToken
from clinic_app.models.people import digits, search_key
from clinic_app.services.frontdesk import patients
from clinic_app.services.frontdesk.reminders import EmailSender
from clinic_app.services.platform import audit, auth, clock, limits
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.platform.permissions import require
from clinic_app.services.portal.accounts import EMAIL_RE, account_of, check_client_and_email, new_token, token_hash

VERIFY_HOURS = 72
VERIFY_PATH = "/portal/register/verify"
# Per limits.py's window: registrations sent from one client address, and for one e-mail.
REGISTRATIONS_PER_CLIENT = 5
REGISTRATIONS_PER_EMAIL = 3
OPEN = ("unverified", "verified")
NOT_OFFERED = "Online registration is not offered at that location; please call the clinic to register."
BAD_LINK = "This link is not valid; register again, or call the clinic."


def check_register_rate(*, client: str, email: str, limiter_: limits.RateLimiter | None = None,
                        now: float | None = None) -> None:
    """Count a registration sent from ``client`` for ``email``; TooManyAttempts past either limit."""
    check_client_and_email("portal-register", client=client, email=email, per_client=REGISTRATIONS_PER_CLIENT,
                           per_email=REGISTRATIONS_PER_EMAIL, what="registrations sent", limiter_=limiter_, now=now)


@dataclass(frozen=True)
class Place:
    id: int
    name: str


def locations(session: Session) -> list[Place]:
    """The active locations where patients may register themselves."""
    rows = session.exec(select(Location).join(OnlineBooking, OnlineBooking.location_id == Location.id)
                        .where(Location.active.is_(True), OnlineBooking.self_registration.is_(True))
                        .order_by(Location.name))
    return [Place(loc.id, loc.name) for loc in rows]


@dataclass(frozen=True)
class Mail:
    """An e-mail to send once the caller has committed."""

    to: str
    subject: str
    body: str


def send(mail: Mail | None, *, sender: EmailSender) -> None:
    if mail is not None:
        sender.send(to=mail.to, subject=mail.subject, body=mail.body)


def _clean(first_name: str, last_name: str, birth_date: str, email: str, phone: str,
           today: dt.date) -> tuple[str, str, dt.date, str, str]:
    first, last = (first_name or "").strip(), (last_name or "").strip()
    email, phone = (email or "").strip().lower(), (phone or "").strip()
    problems = []
    if not search_key(first) or len(first) > 80:
        problems.append("Enter your first name.")
    if not search_key(last) or len(last) > 80:
        problems.append("Enter your last name.")
    try:
        born = dt.date.fromisoformat((birth_date or "").strip())
    except ValueError:
        born = None
    if born is None or born > today or born.year < today.year - 130:
        problems.append("Enter your date of birth (YYYY-MM-DD).")
    if not EMAIL_RE.match(email):
        problems.append("Enter your e-mail address (name@example.com).")
    if not 7 <= len(digits(phone)) <= 15 or len(phone) > 32:
        problems.append("Enter your phone number (7 to 15 digits).")
    if problems:
        raise InvalidInput(" ".join(problems))
    return first, last, born, email, phone


def register(session: Session, *, first_name: str, last_name: str, birth_date: str, email: str, phone: str,
             location_id: int, password: str, base_url: str, source: str = "", clinic_name: str = "the clinic",
             now: dt.datetime | None = None) -> Mail:
    """A patient's own registration: the e-mail to send (a verification link, or, when the
    address already signs in to the portal, a note to its owner; the caller says the same
    words to the person at the form either way)."""
    now = now or utcnow()
    first, last, born, email, phone = _clean(first_name, last_name, birth_date, email, phone, now.date())
    if location_id not in {p.id for p in locations(session)}:
        raise InvalidInput(NOT_OFFERED)
    auth.check_password_policy(password, username=email.split("@")[0])
    hashed_password = auth.hash_password(password)  # also when unused below: the answer takes as long
    for_write(session)
    if session.exec(select(PatientAccount.id).where(PatientAccount.email == email)).first() is not None:
        audit.record(session, actor=None, action="portal_registration_known", entity="patient_account",
                     source=source)
        return Mail(to=email, subject="Someone tried to register with your e-mail", body=(
            f"Hello,\n\nSomeone (perhaps you) tried to register at {clinic_name}'s patient portal with this e-mail "
            "address. You already have a portal account: sign in with it at "
            f"{base_url.rstrip('/')}/portal, or ask the clinic to send you a new invitation if you forgot your "
            "password.\n\nIf this was not you, ignore this message; nothing was changed.\n"))
    for old in session.exec(select(PortalRegistration).where(PortalRegistration.email == email,
                                                             PortalRegistration.status.in_(OPEN))):
        old.status, old.password_hash = "replaced", ""
        session.add(old)
    token, hashed = new_token()
    row = PortalRegistration(first_name=first, last_name=last, birth_date=born, email=email, phone=phone,
                             location_id=location_id, password_hash=hashed_password, token_hash=hashed,
                             created_at=now, expires_at=now + dt.timedelta(hours=VERIFY_HOURS))
    session.add(row)
    session.flush()
    audit.record(session, actor=None, action="portal_registration", entity="portal_registration", entity_id=row.id,
                 source=source)
    link = f"{base_url.rstrip('/')}{VERIFY_PATH}?token={token}"
    return Mail(to=email, subject="Confirm your e-mail for the patient portal", body=(
        f"Hello {first} {last},\n\nThank you for registering at {clinic_name}'s patient portal.\n\n"
        f"Confirm your e-mail address here (the link works once, for {VERIFY_HOURS} hours):\n{link}\n\n"
        "The clinic then checks your details; we e-mail you when you can sign in.\n\n"
        "If you did not register, ignore this message.\n"))


FORGET_AFTER = dt.timedelta(days=7)  # after the link expired: until then it says "expired", not "not valid"


def forget_unconfirmed(session: Session, *, now: dt.datetime | None = None) -> int:
    """Delete the registrations never confirmed (and those replaced by a newer one) whose link
    expired more than FORGET_AFTER ago; how many. The audit log keeps that each was made."""
    cutoff = (now or utcnow()) - FORGET_AFTER
    for_write(session)
    rows = session.exec(select(PortalRegistration).where(PortalRegistration.status.in_(("unverified", "replaced")),
                                                         PortalRegistration.expires_at < cutoff)).all()
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)


def verify(session: Session, *, token: str, now: dt.datetime | None = None) -> str:
    """Follow the e-mail's link: the registration is verified and goes to the desk (once)."""
    now = now or utcnow()
    if not token or len(token) > 100:
        raise InvalidInput(BAD_LINK)
    for_write(session)
    row = session.exec(select(PortalRegistration).where(PortalRegistration.token_hash == token_hash(token))).first()
    if row is None or row.status in ("replaced", "declined"):
        raise InvalidInput(BAD_LINK)
    if row.verified_at is not None:
        raise InvalidInput("This link was already used; the clinic e-mails you when you can sign in.")
    if row.expires_at <= now:
        raise InvalidInput("This link has expired; please register again.")
    row.verified_at, row.status = now, "verified"
    session.add(row)
    session.flush()
    audit.record(session, actor=None, action="portal_registration_verified", entity="portal_registration",
                 entity_id=row.id, source="portal")
    publish_on_commit(session, RegistrationsChanged(row.id))  # the desk's list, live
    return row.email


# -- the desk's list ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    patient_id: int
    label: str  # name, MRN and date of birth
    why: str


@dataclass(frozen=True)
class Pending:
    id: int
    name: str
    birth_date: str
    email: str
    phone: str
    location: str
    verified: str
    matches: list[Match]


def likely_matches(session: Session, row: PortalRegistration) -> list[Match]:
    """Patients on file this may be: the desk's duplicate check (birth date and name, phone
    and last name, e-mail and first name), plus the same last name and birth date, or the same
    e-mail or phone alone."""
    found = {p.id: p for p in patients.possible_duplicates(
        session, first_name=row.first_name, last_name=row.last_name, birth_date=row.birth_date,
        phone=row.phone, email=row.email)}
    same = or_(Patient.email == row.email, Patient.phone_digits == digits(row.phone),
               (Patient.search_last == search_key(row.last_name)) & (Patient.birth_date == row.birth_date))
    for p in session.exec(select(Patient).where(Patient.active, same).order_by(Patient.id).limit(5)):
        found.setdefault(p.id, p)
    matches = []
    for p in list(found.values())[:5]:
        why = [w for w, hit in (("same birth date", p.birth_date == row.birth_date),
                                ("same last name", search_key(p.last_name) == search_key(row.last_name)),
                                ("same e-mail", (p.email or "").lower() == row.email),
                                ("same phone", bool(p.phone) and digits(p.phone) == digits(row.phone))) if hit]
        matches.append(Match(p.id, patients.describe(p), ", ".join(why)))
    return matches


def pending(session: Session, *, actor: Actor) -> list[Pending]:
    """Verified registrations waiting for the desk, oldest first, with their likely matches."""
    require(actor.role, "patient.register")
    return waiting_list(session)


def waiting_list(session: Session) -> list[Pending]:
    """``pending`` without the actor's check: the live push builds it once for every desk
    whose list is open (each registered its topic only after ``pending`` let it in)."""
    rows = session.exec(select(PortalRegistration, Location.name, Location.timezone)
                        .join(Location, Location.id == PortalRegistration.location_id)
                        .where(PortalRegistration.status == "verified")
                        .order_by(PortalRegistration.verified_at, PortalRegistration.id).limit(100))
    return [Pending(id=r.id, name=f"{r.first_name} {r.last_name}", birth_date=r.birth_date.isoformat(),
                    email=r.email, phone=r.phone, location=where,
                    verified=f"{clock.local(r.verified_at, tz):%Y-%m-%d %H:%M}", matches=likely_matches(session, r))
            for r, where, tz in rows]


def _waiting(session: Session, registration_id: int) -> PortalRegistration:
    for_write(session)
    row = session.get(PortalRegistration, registration_id)
    if row is None or row.status != "verified":
        raise NotFound("That registration is no longer waiting; reload the list.")
    return row


def accept(session: Session, *, actor: Actor, registration_id: int, patient_id: int | None = None,
           base_url: str, now: dt.datetime | None = None) -> tuple[Patient, Mail]:
    """Accept a verified registration: onto a new patient record (``patient_id`` None) or onto
    the existing record ``patient_id``. The patient's portal account is made (or an invited
    one completed) with the password they chose; it signs in at once."""
    require(actor.role, "patient.register")
    now = now or utcnow()
    row = _waiting(session, registration_id)
    if session.exec(select(PatientAccount.id).where(PatientAccount.email == row.email)).first() is not None:
        raise InvalidInput(f"{row.email} already signs in to the portal; decline this registration.")
    if patient_id is None:
        patient = patients.register_patient(session, actor=actor, confirm_not_duplicate=True, now=now,
                                            form=patients.Registration(
                                                first_name=row.first_name, last_name=row.last_name,
                                                birth_date=row.birth_date.isoformat(), phone=row.phone,
                                                email=row.email, preferred_channel="email"))
    else:
        patient = session.get(Patient, patient_id)
        if patient is None or not patient.active:
            raise NotFound("That patient record is not in use; choose another.")
    account = account_of(session, patient.id)
    if account is not None and account.password_hash:
        raise InvalidInput(f"{patient.first_name} {patient.last_name} already signs in to the portal as "
                           f"{account.email}; decline this registration, or link it to another record.")
    account = account or PatientAccount(patient_id=patient.id, email=row.email, created_at=now)
    account.email, account.active = row.email, True
    account.password_hash, account.password_set_at = row.password_hash, now
    account.failed_sign_ins, account.locked_until = 0, None
    for invite in session.exec(select(PortalToken).where(PortalToken.patient_id == patient.id,
                                                         PortalToken.kind == "invite", PortalToken.used_at.is_(None))):
        invite.used_at = now  # the invitation's link would set the password again
        session.add(invite)
    row.status, row.patient_id, row.password_hash = "accepted", patient.id, ""
    row.decided_at, row.decided_by = now, actor.user_id
    session.add_all([account, row])
    session.flush()
    audit.record(session, actor=actor, action="portal_registration_accepted", entity="portal_registration",
                 entity_id=row.id, patient_id=patient.id, detail="new record" if patient_id is None else "linked")
    publish_on_commit(session, RegistrationsChanged(row.id))
    return patient, Mail(to=row.email, subject="Your patient portal account is ready", body=(
        f"Hello {row.first_name} {row.last_name},\n\nThe clinic has accepted your registration. Sign in to your "
        f"patient portal at {base_url.rstrip('/')}/portal with this e-mail address and the password you chose.\n"))


def decline(session: Session, *, actor: Actor, registration_id: int, reason: str,
            now: dt.datetime | None = None) -> Mail:
    """Decline a verified registration; the reason stays on the record (the patient is told to call)."""
    require(actor.role, "patient.register")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason for declining (kept on the record, not sent to the patient).")
    if len(reason) > 300:
        raise InvalidInput("Keep the reason under 300 characters.")
    row = _waiting(session, registration_id)
    row.status, row.decline_reason, row.password_hash = "declined", reason, ""
    row.decided_at, row.decided_by = now or utcnow(), actor.user_id
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="portal_registration_declined", entity="portal_registration",
                 entity_id=row.id)
    publish_on_commit(session, RegistrationsChanged(row.id))
    return Mail(to=row.email, subject="Your patient portal registration", body=(
        f"Hello {row.first_name} {row.last_name},\n\nThe clinic could not accept your portal registration. "
        "Please call the clinic; they will help you get access.\n"))
