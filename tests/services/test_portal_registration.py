"""Patients registering themselves in the portal, on both databases: the location's setting,
the e-mailed one-time link (hashed at rest, single use, 72 hours), the rate limits, the same
answer whether or not the e-mail has an account, and the desk's decision (a new record, a link
to an existing one, or declined with a reason), audited, after which the patient signs in."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import select

from clinic_app.live import bus
from clinic_app.live.events import RegistrationsChanged, decode
from clinic_app.models import AuditLog, Patient, PatientAccount, PortalRegistration
from clinic_app.services.frontdesk import merge
from clinic_app.services.frontdesk.reminders import SmtpEmailSender
from clinic_app.services.platform import limits
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound
from clinic_app.services.portal import accounts, booking, registration
from tests.conftest import DAY, at

NOW = at("07:00", DAY - dt.timedelta(days=1))
PASSWORD = "Sunny-day-2030"
BASE = "https://clinic.test"


@pytest.fixture
def open_reg(session, clinic):
    """The test location lets patients register themselves (online booking itself stays off)."""
    booking.save_rules(session, actor=clinic.admin, location_id=clinic.location.id, enabled=False, type_ids=[],
                       provider_ids=[], new_patients=True, returning_patients=True, min_notice_hours=12,
                       days_ahead=28, max_upcoming=2, cancel_window_hours=24, self_registration=True)
    session.commit()
    return clinic


def _register(session, clinic, *, email="nina@example.com", first="Nina", last="Park",
              born="1990-06-15", phone="(212) 555-0199", now=NOW, location_id=None):
    mail = registration.register(session, first_name=first, last_name=last, birth_date=born, email=email, phone=phone,
                                 location_id=location_id or clinic.location.id, password=PASSWORD, base_url=BASE,
                                 source="10.0.0.9", now=now)
    session.commit()
    return mail


def _token(mail) -> str:
    return re.search(r"/portal/register/verify\?token=(\S+)", mail.body).group(1)


def test_register_verify_accept_onto_a_new_record_and_sign_in(session, open_reg, smtp):
    clinic = open_reg
    inbox, port = smtp
    mail = _register(session, clinic)
    registration.send(mail, sender=SmtpEmailSender(host="127.0.0.1", port=port))
    (to, message), = inbox.messages
    assert to == ["nina@example.com"] and message["Subject"] == "Confirm your e-mail for the patient portal"
    token = _token(mail)
    assert f"{BASE}/portal/register/verify?token={token}" in message.get_content()
    row = session.exec(select(PortalRegistration)).one()
    assert row.status == "unverified" and row.token_hash == accounts.token_hash(token) and token not in row.token_hash
    assert row.password_hash.startswith("$argon2") and PASSWORD not in row.password_hash
    # Not on the desk's list before the e-mail is verified.
    assert registration.pending(session, actor=clinic.reception) == []

    assert registration.verify(session, token=token, now=NOW) == "nina@example.com"
    session.commit()
    (waiting,) = registration.pending(session, actor=clinic.reception)
    assert (waiting.name, waiting.birth_date, waiting.email, waiting.location) == \
        ("Nina Park", "1990-06-15", "nina@example.com", clinic.location.name)
    assert waiting.matches == []

    patient, told = registration.accept(session, actor=clinic.reception, registration_id=waiting.id, base_url=BASE,
                                        now=NOW)
    session.commit()
    assert (patient.first_name, patient.last_name, patient.birth_date) == ("Nina", "Park", dt.date(1990, 6, 15))
    assert patient.email == "nina@example.com" and patient.mrn.startswith("P")
    assert told.to == "nina@example.com" and f"{BASE}/portal" in told.body
    account = accounts.authenticate(session, email="Nina@example.com", password=PASSWORD, now=NOW)
    assert account.patient_id == patient.id
    session.refresh(row)
    assert (row.status, row.patient_id, row.password_hash) == ("accepted", patient.id, "")
    assert registration.pending(session, actor=clinic.reception) == []
    actions = set(session.exec(select(AuditLog.action)))
    assert {"portal_registration", "portal_registration_verified", "portal_registration_accepted"} <= actions


def test_the_link_works_once_and_expires_after_72_hours(session, open_reg):
    first = _token(_register(session, open_reg, email="first@example.com"))
    registration.verify(session, token=first, now=NOW)
    session.commit()
    with pytest.raises(InvalidInput, match="already used"):
        registration.verify(session, token=first, now=NOW)
    late = _token(_register(session, open_reg, email="second@example.com"))
    with pytest.raises(InvalidInput, match="expired"):
        registration.verify(session, token=late, now=NOW + dt.timedelta(hours=72))
    with pytest.raises(InvalidInput, match="not valid"):
        registration.verify(session, token="made-up", now=NOW)
    # Registering again replaces the open registration: its older link no longer works.
    again = _token(_register(session, open_reg, email="second@example.com"))
    with pytest.raises(InvalidInput, match="not valid"):
        registration.verify(session, token=late, now=NOW)
    registration.verify(session, token=again, now=NOW + dt.timedelta(hours=71))


def test_a_location_that_does_not_allow_it_is_refused_with_a_clear_message(session, clinic):
    assert registration.locations(session) == []
    with pytest.raises(InvalidInput, match="not offered at that location; please call the clinic"):
        _register(session, clinic)
    assert session.exec(select(PortalRegistration)).all() == []


def test_the_form_reports_what_to_fix_and_keeps_the_password_policy(session, open_reg):
    with pytest.raises(InvalidInput, match=r"date of birth.*e-mail address.*phone"):
        registration.register(session, first_name="Nina", last_name="Park", birth_date="15/06/1990", email="nina",
                              phone="12", location_id=open_reg.location.id, password=PASSWORD, base_url=BASE, now=NOW)
    with pytest.raises(InvalidInput, match="at least"):
        registration.register(session, first_name="Nina", last_name="Park", birth_date="1990-06-15",
                               email="nina@example.com", phone="2125550199", location_id=open_reg.location.id,
                               password="short", base_url=BASE, now=NOW)


def test_an_email_with_an_account_gets_the_same_answer_and_its_owner_a_note(session, open_reg, smtp):
    inbox, port = smtp
    clinic = open_reg
    cara = clinic.patients[0]
    invitation = accounts.invite(session, actor=clinic.reception, patient_id=cara.id, email="cara@example.com", now=NOW)
    accounts.accept_invitation(session, token=invitation.token, password=PASSWORD, now=NOW)
    session.commit()
    known = _register(session, clinic, email="Cara@example.com", first="Mallory", last="Doe")
    fresh = _register(session, clinic, email="new@example.com")
    # The caller gets a Mail either way and shows the same words; nothing is stored for the
    # known address and no link is in its note.
    assert type(known) is type(fresh)
    assert "verify?token=" not in known.body and "already have a portal account" in known.body
    assert [r.email for r in session.exec(select(PortalRegistration))] == ["new@example.com"]
    registration.send(known, sender=SmtpEmailSender(host="127.0.0.1", port=port))
    (to, message), = inbox.messages
    assert to == ["cara@example.com"] and "Mallory" not in message.get_content()
    # Cara's account is unchanged: her own password still signs her in.
    assert accounts.authenticate(session, email="cara@example.com", password=PASSWORD, now=NOW).patient_id == cara.id


def test_linking_to_an_existing_record_gives_that_patient_the_account(session, open_reg):
    clinic = open_reg
    eli = clinic.patients[1]  # Eli Fox, born 1980-01-02
    eli.email, eli.phone = "", "2125550123"
    session.add(eli)
    session.commit()
    token = _token(_register(session, clinic, email="eli.fox@example.com", first="Elias", last="Fox",
                             born="1980-01-02", phone="212-555-0123"))
    registration.verify(session, token=token, now=NOW)
    session.commit()
    (waiting,) = registration.pending(session, actor=clinic.reception)
    (match,) = waiting.matches
    assert match.patient_id == eli.id and "same birth date" in match.why and "same phone" in match.why
    patients_before = len(session.exec(select(Patient)).all())
    patient, _mail = registration.accept(session, actor=clinic.reception, registration_id=waiting.id,
                                         patient_id=eli.id, base_url=BASE, now=NOW)
    session.commit()
    assert patient.id == eli.id and len(session.exec(select(Patient)).all()) == patients_before
    account = session.exec(select(PatientAccount).where(PatientAccount.patient_id == eli.id)).one()
    assert account.email == "eli.fox@example.com"
    assert accounts.authenticate(session, email="eli.fox@example.com", password=PASSWORD, now=NOW).id == account.id
    with pytest.raises(NotFound, match="no longer waiting"):
        registration.accept(session, actor=clinic.reception, registration_id=waiting.id, base_url=BASE, now=NOW)


def test_a_record_that_already_signs_in_is_not_given_a_second_account(session, open_reg):
    clinic = open_reg
    cara = clinic.patients[0]
    invitation = accounts.invite(session, actor=clinic.reception, patient_id=cara.id, email="cara@example.com", now=NOW)
    accounts.accept_invitation(session, token=invitation.token, password=PASSWORD, now=NOW)
    registration.verify(session, token=_token(_register(session, clinic, email="cara2@example.com")), now=NOW)
    session.commit()
    (waiting,) = registration.pending(session, actor=clinic.reception)
    with pytest.raises(InvalidInput, match=r"already signs in to the portal as cara@example\.com"):
        registration.accept(session, actor=clinic.reception, registration_id=waiting.id, patient_id=cara.id,
                             base_url=BASE, now=NOW)


def test_declined_with_a_reason_and_the_patient_told(session, open_reg):
    clinic = open_reg
    registration.verify(session, token=_token(_register(session, clinic)), now=NOW)
    session.commit()
    (waiting,) = registration.pending(session, actor=clinic.reception)
    with pytest.raises(InvalidInput, match="reason"):
        registration.decline(session, actor=clinic.reception, registration_id=waiting.id, reason="  ")
    told = registration.decline(session, actor=clinic.reception, registration_id=waiting.id,
                                reason="Not a patient of ours", now=NOW)
    session.commit()
    assert told.to == "nina@example.com" and "call the clinic" in told.body and "Not a patient" not in told.body
    row = session.get(PortalRegistration, waiting.id)
    assert (row.status, row.decline_reason, row.password_hash, row.patient_id) == \
        ("declined", "Not a patient of ours", "", None)
    assert registration.pending(session, actor=clinic.reception) == []
    assert session.exec(select(PatientAccount)).all() == []
    with pytest.raises(accounts.WrongPassword):
        accounts.authenticate(session, email="nina@example.com", password=PASSWORD, now=NOW)
    assert session.exec(select(AuditLog).where(AuditLog.action == "portal_registration_declined")).one()


def test_only_the_desk_sees_and_decides(session, open_reg):
    clinic = open_reg
    registration.verify(session, token=_token(_register(session, clinic)), now=NOW)
    session.commit()
    for someone in (clinic.clinician, clinic.biller):
        with pytest.raises(NotAllowed):
            registration.pending(session, actor=someone)
        with pytest.raises(NotAllowed):
            registration.accept(session, actor=someone, registration_id=1, base_url=BASE)
        with pytest.raises(NotAllowed):
            registration.decline(session, actor=someone, registration_id=1, reason="x")


def test_rate_limit_per_client_address():
    limiter = limits.RateLimiter()
    for n in range(registration.REGISTRATIONS_PER_CLIENT):
        registration.check_register_rate(client="10.0.0.5", email=f"p{n}@example.com", limiter_=limiter, now=0)
    with pytest.raises(limits.TooManyAttempts, match="Too many registrations"):
        registration.check_register_rate(client="10.0.0.5", email="other@example.com", limiter_=limiter, now=1)
    registration.check_register_rate(client="10.0.0.6", email="other@example.com", limiter_=limiter, now=1)
    registration.check_register_rate(client="10.0.0.5", email="late@example.com", limiter_=limiter, now=61)


def test_rate_limit_per_email():
    limiter = limits.RateLimiter()
    for n in range(registration.REGISTRATIONS_PER_EMAIL):
        registration.check_register_rate(client=f"10.0.1.{n}", email="Nina@example.com", limiter_=limiter, now=0)
    with pytest.raises(limits.TooManyAttempts, match="Too many registrations"):
        registration.check_register_rate(client="10.0.2.1", email="nina@example.com ", limiter_=limiter, now=1)


def test_a_merge_moves_an_accepted_registration_to_the_survivor():
    assert merge.POLICY[("portal_registration", "patient_id")] == "move"


def test_registrations_never_confirmed_are_forgotten_a_week_after_their_link_expired(session, open_reg):
    kept = _token(_register(session, open_reg, email="kept@example.com"))
    registration.verify(session, token=kept, now=NOW)
    _register(session, open_reg, email="gone@example.com")
    _register(session, open_reg, email="again@example.com")
    _register(session, open_reg, email="again@example.com")  # replaces the one before
    session.commit()
    assert registration.forget_unconfirmed(session, now=NOW + dt.timedelta(days=9)) == 0  # the link says "expired" still
    assert registration.forget_unconfirmed(session, now=NOW + dt.timedelta(days=11)) == 3
    session.commit()
    left = session.exec(select(PortalRegistration.email, PortalRegistration.status)).all()
    assert left == [("kept@example.com", "verified")]  # the desk's list keeps what was confirmed
    assert session.exec(select(AuditLog).where(AuditLog.action == "portal_registration")).all()  # still audited


def test_the_desks_list_hears_of_each_confirmation_and_decision_when_it_is_committed(session, open_reg):
    """Every open desk list of registrations follows them live: the service queues an event on
    the session, sent by the commit (services/portal/registration.py, state/portal_register.py)."""
    token = _token(_register(session, open_reg))
    with bus.held() as sent:
        registration.verify(session, token=token, now=NOW)
        assert sent == []
        session.commit()
        (waiting,) = registration.pending(session, actor=open_reg.reception)
        assert sent == [RegistrationsChanged(waiting.id)]
        assert decode(sent[0].to_json()) == sent[0]  # as the Redis bus carries it between workers
        assert [r.name for r in registration.waiting_list(session)] == ["Nina Park"]
        registration.decline(session, actor=open_reg.reception, registration_id=waiting.id, reason="Not our patient")
        session.rollback()  # a decision undone tells no desk
        assert len(sent) == 1
        registration.decline(session, actor=open_reg.reception, registration_id=waiting.id, reason="Not our patient")
        session.commit()
        assert sent == [RegistrationsChanged(waiting.id)] * 2 and registration.waiting_list(session) == []
