"""The patient portal's services on both databases: invitations and sign-in (hashed one-time
links, single use, expiry, lock-out, rate limits), online booking against computed open
times, moving and cancelling inside the window, check-in by link, and scoping: another
patient's id gets nothing from any portal function."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from sqlmodel import Session, select

from clinic_app.models import Appointment, AppointmentEvent, AuditLog, Patient, PatientAccount, PortalToken, Provider
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.frontdesk.reminders import SmtpEmailSender
from clinic_app.services.platform import auth, limits
from clinic_app.services.platform.errors import (
    BadCredentials,
    ClinicError,
    InvalidInput,
    NotAllowed,
    NotFound,
    SlotTaken,
)
from clinic_app.services.platform.permissions import PERMISSIONS, PORTAL, allowed
from clinic_app.services.portal import accounts, booking, checkin
from clinic_app.services.portal.accounts import Me
from tests.conftest import DAY, at

EVE = at("07:00", DAY - dt.timedelta(days=1))  # the day before, 07:00
PASSWORD = "Sunny-day-2030"


def _account(session, clinic, patient=0, email=None) -> Me:
    p = clinic.patients[patient]
    invitation = accounts.invite(session, actor=clinic.reception, patient_id=p.id,
                                 email=email or f"{p.first_name.lower()}@example.com", now=EVE)
    account = accounts.accept_invitation(session, token=invitation.token, password=PASSWORD, now=EVE)
    session.commit()
    return Me(account_id=account.id, patient_id=p.id)


@pytest.fixture
def online(session, clinic):
    """Online booking on at the test location: Treatment with both providers, 09:00-12:00 on Tuesdays."""
    for provider in clinic.providers:
        scheduling.set_hours(session, actor=clinic.admin, provider_id=provider.id, weekday=1,
                             windows=[("09:00", "12:00")])
    booking.save_rules(session, actor=clinic.admin, location_id=clinic.location.id, enabled=True,
                       type_ids=[clinic.treatment.id], provider_ids=[p.id for p in clinic.providers],
                       new_patients=True, returning_patients=True, min_notice_hours=12, days_ahead=28,
                       max_upcoming=2, cancel_window_hours=24)
    session.commit()
    return clinic


# -- invitations, passwords, sign-in --------------------------------------------------------------
def test_invitation_is_emailed_through_smtp_hashed_at_rest_and_single_use(session, clinic, smtp):
    inbox, port = smtp
    patient = clinic.patients[0]
    invitation = accounts.invite(session, actor=clinic.reception, patient_id=patient.id, email="Cara@Example.com", now=EVE)
    session.commit()
    accounts.send(invitation, sender=SmtpEmailSender(host="127.0.0.1", port=port), base_url="https://clinic.test")
    (to, message), = inbox.messages
    assert to == ["cara@example.com"]
    assert f"https://clinic.test/portal/welcome?token={invitation.token}" in message.get_content()
    stored = session.exec(select(PortalToken)).one()
    assert stored.token_hash == accounts.token_hash(invitation.token) and invitation.token not in stored.token_hash
    assert stored.expires_at == EVE + dt.timedelta(hours=72)
    assert accounts.check_invitation(session, token=invitation.token, now=EVE) == "cara@example.com"
    with pytest.raises(InvalidInput, match="at least"):
        accounts.accept_invitation(session, token=invitation.token, password="short", now=EVE)
    session.rollback()
    account = accounts.accept_invitation(session, token=invitation.token, password=PASSWORD, now=EVE)
    session.commit()
    assert account.password_hash.startswith("$argon2")
    with pytest.raises(InvalidInput, match="already used"):
        accounts.accept_invitation(session, token=invitation.token, password=PASSWORD, now=EVE)


def test_invitation_expires_after_72_hours_and_a_new_one_ends_the_old(session, clinic):
    first = accounts.invite(session, actor=clinic.reception, patient_id=clinic.patients[0].id, email="c@example.com", now=EVE)
    with pytest.raises(InvalidInput, match="expired"):
        accounts.accept_invitation(session, token=first.token, password=PASSWORD, now=EVE + dt.timedelta(hours=72))
    second = accounts.invite(session, actor=clinic.reception, patient_id=clinic.patients[0].id, email="c@example.com", now=EVE)
    with pytest.raises(InvalidInput, match="already used"):
        accounts.accept_invitation(session, token=first.token, password=PASSWORD, now=EVE)
    accounts.accept_invitation(session, token=second.token, password=PASSWORD, now=EVE)
    with pytest.raises(NotAllowed):
        accounts.invite(session, actor=clinic.clinician, patient_id=clinic.patients[1].id, email="e@example.com", now=EVE)
    with pytest.raises(InvalidInput, match="another patient"):
        accounts.invite(session, actor=clinic.reception, patient_id=clinic.patients[1].id, email="c@example.com", now=EVE)


def test_sign_in_locks_out_after_repeated_failures_and_sessions_are_separate_from_staff(session, clinic):
    me = _account(session, clinic)
    for _ in range(4):
        with pytest.raises(BadCredentials):
            accounts.authenticate(session, email="cara@example.com", password="wrong-password-1", now=EVE)
        session.commit()
    account = accounts.authenticate(session, email="CARA@example.com", password=PASSWORD, now=EVE)
    assert account.id == me.account_id and account.failed_sign_ins == 0
    for _ in range(5):
        with pytest.raises(BadCredentials):
            accounts.authenticate(session, email="cara@example.com", password="wrong-password-1", now=EVE)
        session.commit()
    with pytest.raises(auth.AccountLocked):
        accounts.authenticate(session, email="cara@example.com", password=PASSWORD, now=EVE)
    later = EVE + dt.timedelta(minutes=16)
    account = accounts.authenticate(session, email="cara@example.com", password=PASSWORD, now=later)
    token = accounts.start_session(session, account=account, now=later)
    session.commit()
    assert accounts.check_session(session, token=token, now=later).patient_id == clinic.patients[0].id
    # A portal session is nobody to the staff's gate, and a staff session nobody to the portal.
    assert auth.check_session(session, token=token, now=later) is None
    staff = auth.start_session(session, user=auth.authenticate(session, username="reception", password="correct horse battery"))
    assert accounts.check_session(session, token=staff) is None
    accounts.end_session(session, token=token, now=later)
    session.commit()
    assert accounts.check_session(session, token=token, now=later) is None
    assert session.exec(select(AuditLog).where(AuditLog.action == "portal_account_locked")).first() is not None


def test_an_account_left_on_a_merged_record_no_longer_signs_in(session, clinic):
    """A merge keeps the survivor's own account; the duplicate's stays on the merged (inactive)
    record, and neither its password nor its open sessions reach that record any more."""
    _account(session, clinic)
    account = session.exec(select(PatientAccount)).one()
    token = accounts.start_session(session, account=account, now=EVE)
    clinic.patients[0].active = False
    session.add(clinic.patients[0])
    session.commit()
    assert accounts.check_session(session, token=token, now=EVE + dt.timedelta(minutes=1)) is None
    with pytest.raises(BadCredentials):
        accounts.authenticate(session, email="cara@example.com", password=PASSWORD, now=EVE)


def test_idle_portal_session_ends(session, clinic):
    _account(session, clinic)
    account = session.exec(select(PatientAccount)).one()
    token = accounts.start_session(session, account=account, now=EVE)
    session.commit()
    assert accounts.check_session(session, token=token, now=EVE + dt.timedelta(minutes=16)) is None
    assert accounts.check_session(session, token=token, now=EVE + dt.timedelta(minutes=1)) is None


def test_patient_and_portal_roles_pass_no_staff_permission():
    for action in PERMISSIONS:
        assert not allowed("patient", action)
    assert {a for a in PERMISSIONS if allowed(PORTAL, a)} == {
        "appointment.book", "appointment.reschedule", "appointment.cancel", "appointment.check_in"}


def test_rate_limits_on_sign_in_links_and_invitations():
    limiter = limits.RateLimiter()
    for _ in range(accounts.SIGN_INS_PER_EMAIL):
        accounts.check_sign_in_rate(client="10.0.0.1", email="a@example.com", limiter_=limiter, now=0)
    with pytest.raises(limits.TooManyAttempts):
        accounts.check_sign_in_rate(client="10.0.0.1", email="a@example.com", limiter_=limiter, now=1)
    accounts.check_sign_in_rate(client="10.0.0.2", email="b@example.com", limiter_=limiter, now=1)
    for _ in range(accounts.TOKEN_USES_PER_CLIENT):
        accounts.check_token_rate(client="10.0.0.3", limiter_=limiter, now=0)
    with pytest.raises(limits.TooManyAttempts):
        accounts.check_token_rate(client="10.0.0.3", limiter_=limiter, now=1)
    accounts.check_token_rate(client="10.0.0.3", limiter_=limiter, now=61)  # the next window
    for _ in range(accounts.CHECKIN_TRIES_PER_LINK):
        accounts.check_checkin_rate(token="a-link", limiter_=limiter, now=0)
    with pytest.raises(limits.TooManyAttempts, match="this link"):
        accounts.check_checkin_rate(token="a-link", limiter_=limiter, now=1)
    accounts.check_checkin_rate(token="another-link", limiter_=limiter, now=1)
    for _ in range(accounts.INVITES_PER_PATIENT):
        accounts.check_invite_rate(patient_id=7, limiter_=limiter, now=0)
    with pytest.raises(limits.TooManyAttempts):
        accounts.check_invite_rate(patient_id=7, limiter_=limiter, now=1)


# -- open times and booking ---------------------------------------------------------------------
def _labels(session, me, clinic, provider=0, day=DAY, now=EVE):
    return [t.label for t in booking.open_times(session, me, provider_id=clinic.providers[provider].id,
                                                appointment_type_id=clinic.treatment.id, day=day, now=now)]


def test_open_times_follow_hours_bookings_time_off_notice_and_rooms(session, online):
    clinic = online
    me = _account(session, clinic)
    assert _labels(session, me, clinic) == ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45",
                                           "11:00", "11:15", "11:30"]
    scheduling.book_appointment(session, actor=clinic.reception, patient_id=clinic.patients[1].id,
                                provider_id=clinic.providers[0].id, appointment_type_id=clinic.treatment.id,
                                starts_at=at("09:30"), now=EVE)
    scheduling.add_time_off(session, actor=clinic.admin, provider_id=clinic.providers[0].id, starts_at=at("11:00"),
                            ends_at=at("12:00"))
    session.commit()
    assert _labels(session, me, clinic) == ["09:00", "10:00", "10:15", "10:30"]
    # Minimum notice: at 21:00 the evening before, nothing before 09:00 + ... 12 hours' notice.
    assert _labels(session, me, clinic, now=at("22:00", DAY - dt.timedelta(days=1))) == ["10:00", "10:15", "10:30"]
    # Too far ahead, and a day the provider does not work.
    assert _labels(session, me, clinic, day=DAY + dt.timedelta(days=35)) == []
    assert _labels(session, me, clinic, day=DAY + dt.timedelta(days=1)) == []
    # Two rooms at the location: two other visits at 10:00 fill them, whoever the provider.
    third = Provider(name="Cy Cole, PT", location_id=clinic.location.id)
    session.add(third)
    session.commit()
    for patient, provider in ((2, clinic.providers[1]), (1, third)):
        scheduling.book_appointment(session, actor=clinic.reception, patient_id=clinic.patients[patient].id,
                                    provider_id=provider.id, appointment_type_id=clinic.treatment.id,
                                    starts_at=at("10:00"), now=EVE)
    session.commit()
    assert _labels(session, me, clinic) == ["09:00", "10:30"]


def test_online_booking_runs_through_book_appointment_and_one_slot_gives_one_booking(session, online):
    clinic = online
    me = _account(session, clinic)
    appointment = booking.book(session, me, provider_id=clinic.providers[0].id, appointment_type_id=clinic.treatment.id,
                               starts_at=at("09:00"), now=EVE)
    session.commit()
    assert appointment.booked_online and appointment.status == "booked" and appointment.patient_id == me.patient_id
    assert session.exec(select(AppointmentEvent).where(AppointmentEvent.appointment_id == appointment.id)).one().user_id is None
    with pytest.raises(SlotTaken):
        scheduling.book_appointment(session, actor=clinic.reception, patient_id=clinic.patients[1].id,
                                    provider_id=clinic.providers[0].id, appointment_type_id=clinic.treatment.id,
                                    starts_at=at("09:00"), now=EVE)
    session.rollback()
    scheduling.book_appointment(session, actor=clinic.reception, patient_id=clinic.patients[1].id,
                                provider_id=clinic.providers[0].id, appointment_type_id=clinic.treatment.id,
                                starts_at=at("10:00"), now=EVE)
    session.commit()
    with pytest.raises(SlotTaken, match="no longer open"):
        booking.book(session, me, provider_id=clinic.providers[0].id, appointment_type_id=clinic.treatment.id,
                     starts_at=at("10:00"), now=EVE)
    session.rollback()
    assert session.exec(select(Appointment).where(Appointment.starts_at == at("10:00"))).all().__len__() == 1


def test_patients_and_desks_pressing_book_on_one_time_at_once_make_one_visit_and_refusals_in_words(engine, session, online):
    """8 patients in the portal and 2 desks book Ann Able's 09:00 at one signal: one visit is made,
    everyone else is told in words (no database error reaches anyone), nothing is half saved."""
    clinic = online
    people = [Patient(mrn=f"R{i}", first_name=f"Rush{i}", last_name="Online", birth_date=dt.date(1990, 1, i + 1))
              for i in range(8)]
    session.add_all(people)
    session.flush()
    accounts = [PatientAccount(patient_id=p.id, email=f"rush{i}@example.com") for i, p in enumerate(people)]
    session.add_all(accounts)
    session.commit()
    kw = {"provider_id": clinic.providers[0].id, "appointment_type_id": clinic.treatment.id, "starts_at": at("09:00"),
          "now": EVE}
    presses = [lambda s, a=a: booking.book(s, Me(account_id=a.id, patient_id=a.patient_id), **kw) for a in accounts]
    presses += [lambda s, p=p: scheduling.book_appointment(s, actor=clinic.reception, patient_id=p.id, **kw)
                for p in clinic.patients[:2]]
    barrier, results = threading.Barrier(len(presses)), []

    def press(book) -> None:
        with Session(engine, expire_on_commit=False) as s:
            barrier.wait(timeout=60)
            try:
                made = book(s)
                s.commit()
                results.append(made)
            except Exception as exc:  # every outcome is looked at below
                s.rollback()
                results.append(exc)

    threads = [threading.Thread(target=press, args=(b,)) for b in presses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    made = [r for r in results if isinstance(r, Appointment)]
    refused = [r for r in results if not isinstance(r, Appointment)]
    assert len(results) == 10 and len(made) == 1, results
    assert all(isinstance(r, ClinicError) for r in refused), refused
    assert all(re.fullmatch(r"[A-Z][A-Za-z ,:.;'0-9-]+\.", str(r)) and "Error" not in str(r) for r in refused), refused
    session.expire_all()
    visits = session.exec(select(Appointment).where(Appointment.provider_id == clinic.providers[0].id)).all()
    assert [(v.id, v.starts_at) for v in visits] == [(made[0].id, at("09:00"))]
    assert len(session.exec(select(AppointmentEvent)).all()) == 1


def test_online_booking_rules_notice_ahead_upcoming_types_and_new_patients(session, online):
    clinic = online
    me = _account(session, clinic)
    kw = {"provider_id": clinic.providers[0].id, "appointment_type_id": clinic.treatment.id}
    with pytest.raises(InvalidInput, match="notice"):
        booking.book(session, me, starts_at=at("09:00"), now=at("08:00"), **kw)
    with pytest.raises(InvalidInput, match="days ahead"):
        booking.book(session, me, starts_at=at("09:00", DAY + dt.timedelta(days=35)), now=EVE, **kw)
    with pytest.raises(NotFound, match="not offered"):
        booking.book(session, me, provider_id=clinic.providers[0].id, appointment_type_id=clinic.evaluation.id,
                     starts_at=at("09:00"), now=EVE)
    booking.book(session, me, starts_at=at("09:00"), now=EVE, **kw)
    booking.book(session, me, starts_at=at("09:00", DAY + dt.timedelta(days=7)), now=EVE, **kw)
    session.commit()
    with pytest.raises(NotAllowed, match="2 upcoming"):
        booking.book(session, me, starts_at=at("10:00", DAY + dt.timedelta(days=14)), now=EVE, **kw)
    session.rollback()
    booking.save_rules(session, actor=clinic.admin, location_id=clinic.location.id, enabled=True,
                       type_ids=[clinic.treatment.id], provider_ids=[clinic.providers[0].id], new_patients=False,
                       returning_patients=True, min_notice_hours=12, days_ahead=28, max_upcoming=5,
                       cancel_window_hours=24)
    session.commit()
    assert booking.options(session, me).types == []  # Cara has not been seen yet: a new patient
    with pytest.raises(NotAllowed, match="call the clinic"):
        booking.book(session, me, starts_at=at("10:00"), now=EVE, **kw)
    with pytest.raises(NotAllowed):
        booking.save_rules(session, actor=clinic.biller, location_id=clinic.location.id, enabled=False, type_ids=[],
                           provider_ids=[], new_patients=True, returning_patients=True, min_notice_hours=1,
                           days_ahead=1, max_upcoming=1, cancel_window_hours=1)


def test_cancel_and_move_inside_the_window_only(session, online):
    clinic = online
    me = _account(session, clinic)
    kw = {"provider_id": clinic.providers[0].id, "appointment_type_id": clinic.treatment.id}
    first = booking.book(session, me, starts_at=at("09:00"), now=EVE, **kw)
    session.commit()
    (visit,) = booking.visits(session, me, now=EVE)
    assert visit.can_change and visit.status == "Booked" and visit.who == "Ann Able, PT"
    moved = booking.reschedule(session, me, appointment_id=first.id, starts_at=at("09:15"), now=EVE)
    session.commit()
    assert moved.starts_at == at("09:15")
    late = at("10:00")  # within 24 hours of the visit
    assert not booking.visits(session, me, now=late - dt.timedelta(hours=2))[0].can_change
    with pytest.raises(NotAllowed, match="call the clinic"):
        booking.cancel(session, me, appointment_id=first.id, now=at("08:00"))
    with pytest.raises(NotAllowed, match="call the clinic"):
        booking.reschedule(session, me, appointment_id=first.id, starts_at=at("10:00"), now=at("08:00"))
    cancelled = booking.cancel(session, me, appointment_id=first.id, now=EVE)
    session.commit()
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "Cancelled online by the patient"


def test_another_patients_visit_gets_nothing_from_any_portal_function(session, online):
    clinic = online
    me = _account(session, clinic, patient=0)
    other = _account(session, clinic, patient=1)
    theirs = booking.book(session, other, provider_id=clinic.providers[0].id, appointment_type_id=clinic.treatment.id,
                          starts_at=at("09:00"), now=EVE)
    session.commit()
    assert booking.visits(session, me, now=EVE) == [] and booking.visits(session, me, upcoming=False, now=at("18:00")) == []
    with pytest.raises(NotFound):
        booking.cancel(session, me, appointment_id=theirs.id, now=EVE)
    with pytest.raises(NotFound):
        booking.reschedule(session, me, appointment_id=theirs.id, starts_at=at("10:00"), now=EVE)
    with pytest.raises(NotFound):
        booking.cancel(session, me, appointment_id=10**9, now=EVE)
    session.rollback()
    assert session.get(Appointment, theirs.id).status == "booked"
    # Open times never show the other patient's visit, only that the time is taken.
    assert "09:00" not in _labels(session, me, clinic)


# -- check-in ---------------------------------------------------------------------------------------
def test_check_in_link_needs_the_birth_date_works_on_the_day_once_and_is_hashed(session, online):
    clinic = online
    me = _account(session, clinic)
    appointment = booking.book(session, me, provider_id=clinic.providers[0].id,
                               appointment_type_id=clinic.treatment.id, starts_at=at("10:00"), now=EVE)
    token = checkin.issue_link(session, actor=None, appointment_id=appointment.id, now=EVE)
    session.commit()
    assert session.exec(select(PortalToken).where(PortalToken.kind == "checkin")).one().token_hash == accounts.token_hash(token)
    with pytest.raises(InvalidInput, match="day of the visit"):
        checkin.check_link(session, token=token, now=EVE)
    checkin.check_link(session, token=token, now=at("09:40"))
    with pytest.raises(InvalidInput, match="does not match"):
        checkin.confirm(session, token=token, birth_date=dt.date(1990, 1, 1), now=at("09:40"))
    session.rollback()
    done = checkin.confirm(session, token=token, birth_date=clinic.patients[0].birth_date, now=at("09:42"))
    session.commit()
    assert done.time == "09:42" and done.starts == "10:00"
    fresh = session.get(Appointment, appointment.id)
    session.refresh(fresh)
    assert fresh.status == "arrived" and fresh.arrived_at == at("09:42")
    with pytest.raises(InvalidInput, match="already used"):
        checkin.confirm(session, token=token, birth_date=clinic.patients[0].birth_date, now=at("09:43"))
    with pytest.raises(InvalidInput, match="not valid"):
        checkin.check_link(session, token="not-a-token", now=at("09:43"))
    with pytest.raises(NotAllowed):
        checkin.issue_link(session, actor=clinic.biller, appointment_id=appointment.id, now=EVE)


def test_a_span_of_days_gives_the_same_open_times_as_each_day_alone(session, online):
    clinic = online
    scheduling.book_appointment(session, actor=clinic.reception, patient_id=clinic.patients[1].id,
                                provider_id=clinic.providers[1].id, appointment_type_id=clinic.treatment.id,
                                starts_at=at("10:00", DAY + dt.timedelta(days=7)), now=EVE)
    scheduling.add_time_off(session, actor=clinic.admin, provider_id=clinic.providers[0].id,
                            starts_at=at("11:30", DAY + dt.timedelta(days=14)), ends_at=at("09:15", DAY + dt.timedelta(days=21)))
    session.commit()
    ids = [p.id for p in clinic.providers]
    span = booking.location_open_times(session, location=clinic.location, provider_ids=ids, minutes=30, first_day=DAY,
                                       days=28, earliest=EVE, latest=EVE + dt.timedelta(days=60))
    for offset in range(28):
        day = DAY + dt.timedelta(days=offset)
        for provider in clinic.providers:
            alone = booking.free_starts(session, provider=provider, location=clinic.location, minutes=30, day=day,
                                        earliest=EVE, latest=EVE + dt.timedelta(days=60))
            assert span.get((provider.id, day), []) == alone
    assert len(span[(ids[0], DAY)]) == 11 and len(span[(ids[1], DAY + dt.timedelta(days=7))]) == 8
    assert len(span[(ids[0], DAY + dt.timedelta(days=21))]) == 10  # from 09:15, when the time off ends
    assert len(span[(ids[0], DAY + dt.timedelta(days=14))]) == 9  # 09:00-11:00, then time off


def test_the_settings_form_and_its_checks(session, online):
    clinic = online
    form = booking.rules_form(session, actor=clinic.admin)
    assert [c.label for c in form.providers] == ["Ann Able, PT", "Bo Baker, PT"] and form.rules.enabled
    assert booking.ids(form.rules.type_ids) == {clinic.treatment.id}
    with pytest.raises(InvalidInput, match="at least one"):
        booking.save_rules(session, actor=clinic.admin, location_id=clinic.location.id, enabled=True, type_ids=[],
                           provider_ids=[], new_patients=True, returning_patients=True, min_notice_hours=1,
                           days_ahead=1, max_upcoming=1, cancel_window_hours=1)
    with pytest.raises(InvalidInput, match="between 1 and 365"):
        booking.save_rules(session, actor=clinic.admin, location_id=clinic.location.id, enabled=False, type_ids=[],
                           provider_ids=[], new_patients=True, returning_patients=True, min_notice_hours=1,
                           days_ahead=0, max_upcoming=1, cancel_window_hours=1)
    with pytest.raises(NotAllowed):
        booking.rules_form(session, actor=clinic.biller)


def test_a_location_that_needs_approval_holds_the_time_until_the_desk_approves_or_declines(session, online):
    clinic = online
    booking.save_rules(session, actor=clinic.admin, location_id=clinic.location.id, enabled=True,
                       type_ids=[clinic.treatment.id], provider_ids=[p.id for p in clinic.providers], new_patients=True,
                       returning_patients=True, min_notice_hours=12, days_ahead=28, max_upcoming=3,
                       cancel_window_hours=24, needs_approval=True)
    session.commit()
    me = _account(session, clinic)
    kw = {"provider_id": clinic.providers[0].id, "appointment_type_id": clinic.treatment.id}
    first = booking.book(session, me, starts_at=at("09:00"), now=EVE, **kw)
    second = booking.book(session, me, starts_at=at("10:00"), now=EVE, **kw)
    session.commit()
    assert first.awaiting_approval and first.booked_online and first.status == "booked"
    assert "09:00" not in _labels(session, me, clinic)  # held meanwhile
    assert booking.visits(session, me, now=EVE)[0].status == "Requested: the clinic will confirm"
    assert [r.id for r in booking.requests(session, actor=clinic.reception, patient_id=me.patient_id, now=EVE)] == \
        [first.id, second.id]
    with pytest.raises(NotAllowed):
        booking.approve(session, actor=clinic.biller, appointment_id=first.id)
    booking.approve(session, actor=clinic.reception, appointment_id=first.id)
    declined = booking.decline(session, actor=clinic.reception, appointment_id=second.id)
    session.commit()
    assert declined.status == "cancelled" and declined.cancel_reason == "Online request declined by the clinic"
    assert booking.visits(session, me, now=EVE)[0].status == "Booked"
    assert booking.requests(session, actor=clinic.reception, patient_id=me.patient_id, now=EVE) == []
    with pytest.raises(NotFound):
        booking.approve(session, actor=clinic.reception, appointment_id=first.id)
    assert "10:00" in _labels(session, me, clinic)


def test_open_times_across_the_clock_change_match_each_day_alone(session, online):
    """2030-03-10 is New York's spring change: a span over it takes the zone's slow path."""
    clinic = online
    first = DAY - dt.timedelta(days=7)  # Tuesday 2030-03-05
    early = at("07:00", first - dt.timedelta(days=1))
    scheduling.book_appointment(session, actor=clinic.reception, patient_id=clinic.patients[1].id,
                                provider_id=clinic.providers[0].id, appointment_type_id=clinic.treatment.id,
                                starts_at=at("09:30", first), now=early)
    session.commit()
    ids = [p.id for p in clinic.providers]
    span = booking.location_open_times(session, location=clinic.location, provider_ids=ids, minutes=30,
                                       first_day=first, days=14, earliest=early, latest=early + dt.timedelta(days=30))
    for day in (first, DAY):
        for provider in clinic.providers:
            alone = booking.free_starts(session, provider=provider, location=clinic.location, minutes=30, day=day,
                                        earliest=early, latest=early + dt.timedelta(days=30))
            assert span[(provider.id, day)] == alone
    assert span[(ids[0], first)][:2] == [at("09:00", first), at("10:00", first)]
    assert span[(ids[0], DAY)][0] == at("09:00", DAY)  # 13:00 UTC after the change, 14:00 before it
