"""A parent's or guardian's portal access to a dependant's records (issue 18), on SQLite and
PostgreSQL: the desk links a dependant to an existing portal account and revokes it (audited;
access ends at once, an open session included); the account sees its own and its dependants'
records, acting for one at a time, and never an unlinked patient's: every portal service
function that takes ``me`` is walked with an unlinked patient's ids (the walk fails when a new
such function is not in it)."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from clinic_app.models import Appointment, AuditLog, HomeMeasure, LedgerEntry, PortalDependant
from clinic_app.services.charting import charting, history, released
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.frontdesk.reminders import SmtpEmailSender
from clinic_app.services.messaging import messages
from clinic_app.services.platform.errors import InvalidInput, NotAllowed, NotFound
from clinic_app.services.portal import accounts, booking, care, confirmations, dependants, inbox, payments, profile
from clinic_app.services.portal.accounts import Me
from clinic_app.services.portal.payments import LocalGateway
from tests.conftest import DAY, at
from tests.services.helpers import book
from tests.services.test_portal import online  # noqa: F401  (the fixture)

EVE = at("07:00", DAY - dt.timedelta(days=1))
PASSWORD = "Sunny-day-2030"


def _signed_in(session, clinic, patient: int) -> tuple[Me, str]:
    """An account for ``clinic.patients[patient]`` with a live portal session: (Me, token)."""
    p = clinic.patients[patient]
    invitation = accounts.invite(session, actor=clinic.reception, patient_id=p.id,
                                 email=f"{p.first_name.lower()}@example.com", now=EVE)
    account = accounts.accept_invitation(session, token=invitation.token, password=PASSWORD, now=EVE)
    token = accounts.start_session(session, account=account)
    session.commit()
    return accounts.check_session(session, token=token), token


def _link(session, clinic, me: Me, patient: int, relationship="parent") -> PortalDependant:
    row = dependants.link(session, actor=clinic.reception, patient_id=clinic.patients[patient].id,
                          account_id=me.account_id, relationship=relationship)
    session.commit()
    return row


@pytest.fixture
def family(session, online):  # noqa: F811
    """Cara (patient 0) signs in; Gus (2) is her son, linked; Eli (1) has his own account and
    records. Each has a visit at the clinic and a home exercise; Eli a questionnaire and a thread."""
    clinic = online
    cara, token = _signed_in(session, clinic, 0)
    eli, _ = _signed_in(session, clinic, 1)
    _link(session, clinic, cara, 2)
    visits = {n: book(session, clinic, hhmm, patient=n) for n, hhmm in ((0, "09:00"), (1, "10:00"), (2, "11:00"))}
    for n, name in ((0, "Cara's stretch"), (1, "Eli's stretch"), (2, "Gus's stretch")):
        history.add_exercise(session, actor=clinic.clinician, patient_id=clinic.patients[n].id, name=name)
    for n, city in ((1, "Elitown"), (2, "Gusville")):
        clinic.patients[n].city = city
        session.add(clinic.patients[n])
    asked = care.assign(session, actor=clinic.clinician, patient_id=clinic.patients[1].id, code="NPRS")
    thread = inbox.write(session, eli, to="desk", subject="Eli's question", body="Private words")
    session.commit()
    return {"clinic": clinic, "token": token, "eli": eli, "visits": visits, "asked": asked, "thread": thread}


def _me(session, family) -> Me:
    return accounts.check_session(session, token=family["token"])


# -- the desk: link and revoke ----------------------------------------------------------------
def test_the_desk_links_a_dependant_audited_once_and_only_to_an_active_account(session, family):
    clinic = family["clinic"]
    cara = _me(session, family)
    gus = clinic.patients[2]
    assert cara.patient_ids == {clinic.patients[0].id, gus.id} and cara.acting_for == clinic.patients[0].id
    row = session.exec(select(PortalDependant)).one()
    assert (row.relationship, row.granted_by_user_id, row.revoked_at) == ("parent", clinic.reception.user_id, None)
    assert session.exec(select(AuditLog).where(AuditLog.action == "portal_dependant_link")).one().patient_id == gus.id
    # The profile names who has access; a second live link is refused in words.
    (shown,) = dependants.links(session, actor=clinic.reception, patient_id=gus.id)
    assert shown.holder == "Cara Diaz (cara@example.com)" and shown.relationship == "parent"
    with pytest.raises(InvalidInput, match="Cara Diaz can already see Gus Hall's records"):
        _link(session, clinic, cara, 2)
    session.rollback()
    with pytest.raises(InvalidInput, match="patient's own portal account"):
        _link(session, clinic, cara, 0)
    session.rollback()
    with pytest.raises(InvalidInput, match="Choose the relationship"):
        _link(session, clinic, cara, 1, relationship="self")
    session.rollback()
    with pytest.raises(NotAllowed):
        dependants.link(session, actor=clinic.clinician, patient_id=gus.id, account_id=cara.account_id,
                        relationship="parent")
    session.rollback()
    # The desk finds the account holder by name; a patient without an account is not offered.
    assert [h.account_id for h in dependants.holders(session, actor=clinic.reception, text="Diaz",
                                                     patient_id=gus.id)] == [cara.account_id]
    assert dependants.holders(session, actor=clinic.reception, text="Hall", patient_id=0) == []


def test_the_database_keeps_one_live_link_per_account_and_dependant(session, family):
    clinic = family["clinic"]
    cara = _me(session, family)
    session.add(PortalDependant(account_id=cara.account_id, patient_id=clinic.patients[2].id, relationship="guardian",
                                granted_by_user_id=clinic.reception.user_id))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    session.add(PortalDependant(account_id=cara.account_id, patient_id=clinic.patients[1].id, relationship="self",
                                granted_by_user_id=clinic.reception.user_id))
    with pytest.raises(IntegrityError):
        session.commit()


def test_revoking_ends_access_at_once_for_an_open_session(session, family):
    clinic = family["clinic"]
    gus = clinic.patients[2]
    acting = dependants.acting_as(_me(session, family), gus.id)
    assert [v.id for v in booking.visits(session, acting, now=EVE)] == [family["visits"][2].id]
    (shown,) = dependants.links(session, actor=clinic.reception, patient_id=gus.id)
    # The live push to an open Messages page checks who may see Gus's threads now.
    assert acting.account_id in dependants.accounts_seeing(session, patient_id=gus.id)
    dependants.revoke(session, actor=clinic.reception, link_id=shown.id, patient_id=gus.id)
    session.commit()
    # The same open session, checked on its next event: Gus is gone, Cara's own records stay.
    after = _me(session, family)
    assert acting.account_id not in dependants.accounts_seeing(session, patient_id=gus.id)
    assert after is not None and after.patient_ids == {clinic.patients[0].id}
    with pytest.raises(NotFound, match="not available to this account"):
        dependants.acting_as(after, gus.id)
    with pytest.raises(NotFound):
        booking.cancel(session, after, appointment_id=family["visits"][2].id, now=EVE)
    session.rollback()
    assert dependants.links(session, actor=clinic.reception, patient_id=gus.id) == []
    row = session.exec(select(PortalDependant)).one()
    assert row.revoked_at is not None and row.revoked_by_user_id == clinic.reception.user_id
    assert session.exec(select(AuditLog).where(AuditLog.action == "portal_dependant_revoke")).one().patient_id == gus.id
    with pytest.raises(NotFound, match="already ended"):
        dependants.revoke(session, actor=clinic.reception, link_id=shown.id, patient_id=gus.id)
    session.rollback()
    # Linked again later: a new live link beside the revoked one.
    _link(session, clinic, after, 2, relationship="guardian")
    assert gus.id in _me(session, family).patient_ids


# -- the account holder: whose records --------------------------------------------------------
def test_acting_for_a_dependant_shows_and_books_the_dependants_records_only(session, family):
    clinic = family["clinic"]
    cara, gus = _me(session, family), clinic.patients[2]
    assert [p.name for p in dependants.people(session, cara)] == ["Cara Diaz", "Gus Hall"]
    assert [v.id for v in booking.visits(session, cara, now=EVE)] == [family["visits"][0].id]
    acting = dependants.acting_as(cara, gus.id)
    assert [v.id for v in booking.visits(session, acting, now=EVE)] == [family["visits"][2].id]
    assert [e.name for e in care.exercises(session, acting)] == ["Gus's stretch"]
    assert profile.current(session, acting)["city"] == "Gusville" and profile.current(session, cara)["city"] == ""
    booked = booking.book(session, acting, provider_id=clinic.providers[1].id, appointment_type_id=clinic.treatment.id,
                          starts_at=at("09:30"), now=EVE)
    session.commit()
    assert session.get(Appointment, booked.id).patient_id == gus.id
    thread = inbox.write(session, acting, to="desk", subject="Gus's knee", body="Is it swollen?")
    session.commit()
    assert thread.patient_id == gus.id
    assert [t["subject"] for t in inbox.threads(session, patient_id=cara.acting_for, tz="UTC")] == []
    # Acting for Eli (never linked) is refused, however the id arrives.
    for wanted in (clinic.patients[1].id, 10**9, -1):
        with pytest.raises(NotFound):
            dependants.acting_as(cara, wanted)


# -- every portal function, with an unlinked patient's ids -------------------------------------
def _walk(session, me: Me, eli: dict) -> dict[str, object]:
    """Each portal service that takes ``me``, called for Eli's records; returns what each gave
    (a refusal is raised and checked here)."""
    clinic = eli["clinic"]
    his_visit, asked, thread = eli["visits"][1], eli["asked"], eli["thread"]
    provider, kind = clinic.providers[0].id, clinic.treatment.id

    def refused(call):
        with pytest.raises(NotFound):
            call()
        session.rollback()
        return "refused"

    return {
        "booking.options": booking.options(session, me),
        "booking.open_times": [t.label for t in booking.open_times(session, me, provider_id=provider,
                                                                   appointment_type_id=kind, day=DAY, now=EVE)],
        "booking.booking_days": booking.booking_days(session, me, provider_id=provider, appointment_type_id=kind,
                                                     now=EVE),
        "booking.upcoming_count": booking.upcoming_count(session, me, EVE),
        "booking.book": None,  # books ``me.acting_for`` only: checked by the test above
        "booking.visits": sorted({v.id for v in booking.visits(session, me, now=EVE)
                                  + booking.visits(session, me, upcoming=False, now=at("18:00"))}),
        "booking.cancel": refused(lambda: booking.cancel(session, me, appointment_id=his_visit.id, now=EVE)),
        "booking.reschedule": refused(lambda: booking.reschedule(session, me, appointment_id=his_visit.id,
                                                                  starts_at=at("11:30"), now=EVE)),
        "care.visits": [v.id for part in care.visits(session, me, now=EVE) for v in part],
        "care.exercises": [e.name for e in care.exercises(session, me)],
        "care.asked_measures": care.asked_measures(session, me),
        "care.answer": refused(lambda: care.answer(session, me, home_measure_id=asked.id, values=["2"])),
        "care.programme_pdf": "own",  # prints ``me.acting_for``'s programme: the care tests read it
        "care.documents": [d.id for d in care.documents(session, me)],
        "care.document_pdf": refused(lambda: care.document_pdf(session, me, document_id=eli["document"].id)),
        "inbox.recipients": [r.value for r in inbox.recipients(session, me)],
        "inbox.zone": inbox.zone(session, me),
        "inbox.write": "own",  # starts a thread about ``me.acting_for``: checked by the test above
        "inbox.open_thread": refused(lambda: inbox.open_thread(session, me, thread_id=thread.id, tz="UTC")),
        "profile.current": profile.current(session, me),
        "profile.request_change": "own",  # asks for ``me.acting_for``'s record: the profile tests
        "profile.my_waiting": profile.my_waiting(session, me),
        "profile.my_last_decision": profile.my_last_decision(session, me),
        # What the portal's pages call with ``me.acting_for`` as the patient.
        "messages.patient_reply": refused(lambda: messages.patient_reply(session, patient_id=me.acting_for,
                                                                          thread_id=thread.id, body="let me in")),
        "inbox.threads": inbox.threads(session, patient_id=me.acting_for, tz="UTC"),
    }


def _eli_shared_summary(session, clinic, visit):
    """Eli's visit charted, signed and its summary shared with him."""
    for status, who in (("arrived", clinic.reception), ("in_session", clinic.clinician)):
        scheduling.transition(session, actor=who, appointment_id=visit.id, to_status=status, now=at("10:00"))
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=visit.id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="Private words")
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code="M25.561")
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97110", units=1)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id)
    document = released.share_visit_summary(session, actor=clinic.clinician, note_id=note.id)
    session.commit()
    return document


def _functions_taking_me() -> set[str]:
    found = set()
    for module in (accounts, booking, care, inbox, profile, payments, dependants):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            params = list(inspect.signature(fn).parameters)
            if not name.startswith("_") and fn.__module__ == module.__name__ and "me" in params[:2] \
                    and name not in ("portal_actor", "acting_as", "people"):
                found.add(f"{module.__name__.rsplit('.', 1)[1]}.{name}")
    return found


@pytest.mark.parametrize("as_dependant", [False, True], ids=["own records", "acting for a dependant"])
def test_every_portal_function_refuses_or_hides_an_unlinked_patients_records(session, family, as_dependant):
    clinic = family["clinic"]
    cara = _me(session, family)
    me = dependants.acting_as(cara, clinic.patients[2].id) if as_dependant else cara
    family["document"] = _eli_shared_summary(session, clinic, family["visits"][1])
    seen = _walk(session, me, family)
    assert _functions_taking_me() <= set(seen), "a portal function takes `me`: walk it here with another patient's ids"
    eli = family["eli"]
    assert family["visits"][1].id not in seen["booking.visits"] + seen["care.visits"]
    assert seen["care.exercises"] == ["Gus's stretch" if as_dependant else "Cara's stretch"]
    assert seen["care.asked_measures"] == [] and seen["care.documents"] == []
    assert seen["inbox.threads"] == [] and seen["profile.current"]["city"] == ("Gusville" if as_dependant else "")
    assert seen["inbox.recipients"] == ["desk", f"clinician:{clinic.providers[0].id}"]
    assert seen["booking.upcoming_count"] == 1  # Cara's or Gus's own visit, never Eli's too
    assert seen["profile.my_waiting"] is None and seen["profile.my_last_decision"] == ""
    own = session.get(Appointment, family["visits"][2 if as_dependant else 0].id)
    assert seen["booking.visits"] == [own.id]
    assert session.get(HomeMeasure, family["asked"].id).answered_at is None
    assert eli.patient_id not in me.patient_ids
    # A forged Me naming Eli as the person acted for cannot be made.
    with pytest.raises(NotFound):
        Me(account_id=cara.account_id, patient_id=cara.patient_id, dependant_ids=cara.dependant_ids,
           acting_for=eli.patient_id)
    # Payments: Eli's payment is not found for the person acted for.
    gateway = LocalGateway(key=b"test-local-gateway")
    session.add(LedgerEntry(patient_id=eli.patient_id, kind="charge", amount_cents=2000, created_at=EVE))
    _, checkout = payments.start_payment(session, gateway=gateway, patient_id=eli.patient_id, amount_cents=1000,
                                      idempotency_key="key-eli-000001", now=EVE)
    session.commit()
    with pytest.raises(NotFound):
        payments.payment_for(session, patient_id=me.acting_for, payment_id=checkout.payment_id)


def test_a_parents_booking_for_a_child_is_confirmed_to_the_parent_naming_the_child(session, family, smtp):
    inbox_, port = smtp
    clinic = family["clinic"]
    cara = _me(session, family)
    acting = dependants.acting_as(cara, clinic.patients[2].id)
    booked = booking.book(session, acting, provider_id=clinic.providers[1].id, appointment_type_id=clinic.treatment.id,
                          starts_at=at("09:30"), now=EVE)
    session.commit()
    sender = SmtpEmailSender(host="127.0.0.1", port=port)
    assert confirmations.after_change(session, appointment_id=booked.id, email=sender, booked=True,
                                      account_id=cara.account_id) is True
    session.commit()
    (to, message), = inbox_.messages
    gus = clinic.patients[2]
    assert to == ["cara@example.com"]
    assert message["Subject"].startswith(f"Confirmed: {gus.first_name}'s appointment on ")
    assert f"{gus.first_name}'s appointment with" in message.get_body(("plain",)).get_content()
    # Cara's own visit is confirmed to her as hers (she has no address on her record: none is sent).
    own = booking.book(session, cara, provider_id=clinic.providers[1].id, appointment_type_id=clinic.treatment.id,
                       starts_at=at("10:30"), now=EVE)
    session.commit()
    assert confirmations.after_change(session, appointment_id=own.id, email=sender, account_id=cara.account_id) \
        is bool(clinic.patients[0].email)
