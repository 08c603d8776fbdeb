"""The portal's Messages and Pay pages' services (issue 18), on SQLite and PostgreSQL: the
patient writes to the front desk or to a clinician they have visits with (nobody else), sees
and answers only their own threads (another patient's thread id gets nothing), the live push
reaches the portal for patient threads only; the desk's answer gives the patient an e-mail
without its content, through a real SMTP server, built in the reply's transaction and sent
after its commit; the confirmation after an online booking carries the .ics and the intake
link when a form is pending; the Pay page's latest payments are the patient's own."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from clinic_app.live.events import MessagesChanged, portal_topic
from clinic_app.models import Message, MessageThread
from clinic_app.services.frontdesk.reminders import SmtpEmailSender
from clinic_app.services.messaging import messages, notify
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.portal import confirmations, inbox, payments
from clinic_app.services.portal.accounts import Me
from clinic_app.services.portal.payments import LocalGateway
from clinic_app.state.portal_messages import portal_topics
from tests.services.helpers import book, now_at
from tests.services.test_intake import new_form

GATEWAY = LocalGateway(key=b"test-local-gateway")


def me(clinic, n=0) -> Me:
    p = clinic.patients[n]
    return Me(account_id=n + 1, patient_id=p.id, name=f"{p.first_name} {p.last_name}")


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_the_patient_writes_to_the_desk_or_to_a_clinician_they_see_and_to_nobody_else(session, clinic):
    cara = me(clinic)
    assert [r.value for r in inbox.recipients(session, cara)] == ["desk"]  # no visits: the desk only
    book(session, clinic, "09:00", provider=0)
    session.commit()
    mine = clinic.providers[0].id
    assert [(r.value, r.label) for r in inbox.recipients(session, cara)] == [
        ("desk", "The front desk"), (f"clinician:{mine}", clinic.providers[0].name)]
    for to in (f"clinician:{clinic.providers[1].id}", "clinician:99999", "billing", ""):
        with pytest.raises(InvalidInput, match="Choose who the message is for"):
            inbox.write(session, cara, to=to, subject="Hello", body="Body")
        session.rollback()
    assert _count(session, MessageThread) == 0
    desk = inbox.write(session, cara, to="desk", subject="Parking", body="Where can I park?")
    clin = inbox.write(session, cara, to=f"clinician:{mine}", subject="Exercises", body="How many sets?")
    session.commit()
    assert (desk.to_queue, clin.to_queue, clin.provider_id) == ("desk", "clinician", mine)
    rows = inbox.threads(session, patient_id=cara.patient_id, tz="UTC")
    assert {r["subject"] for r in rows} == {"Parking", "Exercises"} and all(r["unread"] == 0 for r in rows)


def test_another_patients_thread_id_gets_nothing(session, clinic):
    thread = inbox.write(session, me(clinic, 0), to="desk", subject="Mine", body="Private words")
    session.commit()
    other = me(clinic, 1)
    assert inbox.threads(session, patient_id=other.patient_id, tz="UTC") == []
    with pytest.raises(NotFound, match="not among yours"):
        inbox.open_thread(session, other, thread_id=thread.id, tz="UTC")
    session.rollback()
    with pytest.raises(NotFound, match="not among yours"):
        inbox.thread_messages(session, patient_id=other.patient_id, thread_id=thread.id, tz="UTC")
    with pytest.raises(NotFound, match="not among yours"):
        messages.patient_reply(session, patient_id=other.patient_id, thread_id=thread.id, body="let me in")
    session.rollback()
    assert inbox.change(session, patient_id=other.patient_id, thread_id=thread.id) is None
    assert _count(session, Message) == 1


def test_the_desks_answer_is_shown_marked_new_then_seen(session, clinic):
    cara = me(clinic)
    thread = inbox.write(session, cara, to="desk", subject="Parking", body="Where can I park?")
    session.commit()
    messages.reply(session, actor=clinic.reception, thread_id=thread.id, body="Behind the building.")
    session.commit()
    change = inbox.change(session, patient_id=cara.patient_id, thread_id=thread.id)
    assert change["threads"][0]["unread"] == 1
    assert [m["author"] for m in change["messages"]] == ["You", "Reception"]  # the push marks nothing seen
    row, shown = inbox.open_thread(session, cara, thread_id=thread.id, tz="UTC")
    session.commit()
    assert (row["subject"], row["unread"]) == ("Parking", 0)
    assert [m["body"] for m in shown] == ["Where can I park?", "Behind the building."]
    assert inbox.threads(session, patient_id=cara.patient_id, tz="UTC")[0]["unread"] == 0


def test_only_patient_threads_reach_the_patients_portal():
    patient_thread = MessagesChanged(thread_id=1, patient_id=7, user_ids=(3,), queue="desk")
    staff_thread = MessagesChanged(thread_id=2, patient_id=7, user_ids=(3, 4), queue="")
    assert portal_topics(patient_thread) == ["portal_messages:" + portal_topic(7)]
    assert portal_topics(staff_thread) == []  # colleagues' notes about the patient never reach the portal


def test_the_patient_gets_an_email_without_the_content_after_the_desk_answers(session, clinic, smtp):
    mail, port = smtp
    cara = clinic.patients[0]
    cara.email = "cara@example.com"
    session.add(cara)
    thread = inbox.write(session, me(clinic), to="desk", subject="Parking", body="Where can I park?")
    staff = messages.start_staff_thread(session, actor=clinic.reception, patient_id=cara.id,
                                        to_user_ids=[clinic.clinician.user_id], subject="Note", body="Internal")
    session.commit()
    messages.reply(session, actor=clinic.reception, thread_id=thread.id, body="Behind the building, space 4.")
    notice = notify.patient_notice(session, thread_id=thread.id)
    assert notify.patient_notice(session, thread_id=staff.id) is None  # colleagues' threads tell nobody
    session.commit()  # the caller's commit first, then the e-mail
    sender = SmtpEmailSender(host="127.0.0.1", port=port, sender="clinic@clinic.test")
    assert notify.send(notice, email=sender) is True
    [(to, message)] = mail.messages
    assert to == ["cara@example.com"] and message["Subject"] == "You have a new message from Clinic"
    body = message.get_content()
    assert "/portal/messages" in body
    assert "Behind the building" not in body and "Parking" not in body and "Where can I park" not in body
    cara.email = ""
    session.add(cara)
    session.commit()
    assert notify.patient_notice(session, thread_id=thread.id) is None
    assert notify.send(None, email=sender) is False


def test_an_online_booking_confirmation_has_the_ics_and_the_intake_link_when_a_form_is_pending(session, clinic, smtp):
    mail, port = smtp
    cara = clinic.patients[0]
    cara.email = "cara@example.com"
    session.add(cara)
    session.commit()
    new_form(session, clinic)
    evaluation = book(session, clinic, "10:00", kind=clinic.evaluation)
    treatment = book(session, clinic, "11:00")
    session.commit()
    sender = SmtpEmailSender(host="127.0.0.1", port=port, sender="clinic@clinic.test")
    assert confirmations.after_change(session, appointment_id=evaluation.id, email=sender, booked=True) is True
    assert confirmations.after_change(session, appointment_id=treatment.id, email=sender, booked=True) is True
    session.commit()
    (_, first), (_, second) = mail.messages
    assert first["Subject"].startswith("Confirmed: your appointment")
    assert "/intake?token=" in first.get_body(preferencelist=("plain",)).get_content()
    assert [a.get_filename() for a in first.iter_attachments()] == ["invite.ics"]
    assert "/intake?token=" not in second.get_body(preferencelist=("plain",)).get_content()  # no form pending


def _cara_owes_50_and_starts_paying_20(session, clinic, key: str):
    """Cara owes $50.00 and has started a $20.00 payment through the local gateway."""
    from clinic_app.models import LedgerEntry

    cara = clinic.patients[0]
    session.add(LedgerEntry(patient_id=cara.id, kind="charge", amount_cents=5000, created_at=now_at("07:00")))
    session.commit()
    row, checkout = payments.start_payment(session, gateway=GATEWAY, patient_id=cara.id, amount_cents=2000,
                                           idempotency_key=key)
    session.commit()
    return cara, row, checkout


def test_the_pay_pages_payments_are_the_patients_own(session, clinic):
    dan = clinic.patients[1]
    cara, row, checkout = _cara_owes_50_and_starts_paying_20(session, clinic, "key-portal-pay-1")
    assert checkout.redirect_url == f"/pay/local/{checkout.payment_id}"
    assert [p.id for p in payments.recent(session, patient_id=cara.id)] == [row.id]
    assert payments.recent(session, patient_id=dan.id) == []
    with pytest.raises(InvalidInput, match="pay at most that"):
        payments.start_payment(session, gateway=GATEWAY, patient_id=cara.id, amount_cents=6000,
                               idempotency_key="key-portal-pay-2")


def test_a_settled_payment_reaches_only_that_patients_open_pay_page(session, clinic):
    from clinic_app.live import bus
    from clinic_app.live.events import PaymentsChanged, decode
    from clinic_app.state.portal_pay import account_view, page_topic, pay_topics

    dan = clinic.patients[1]
    cara, _, checkout = _cara_owes_50_and_starts_paying_20(session, clinic, "key-portal-pay-live")
    with bus.held() as sent:
        token = GATEWAY.authorize(checkout.client_secret, outcome="succeeded")
        payments.confirm_payment(session, gateway=GATEWAY, payment_id=checkout.payment_id, token=token)
        assert PaymentsChanged(patient_id=cara.id) not in sent  # not before the commit
        session.commit()
    assert PaymentsChanged(patient_id=cara.id) in sent
    assert decode(PaymentsChanged(patient_id=cara.id).to_json()) == PaymentsChanged(patient_id=cara.id)  # over Redis
    assert pay_topics(PaymentsChanged(patient_id=cara.id)) == [page_topic(cara.id)] != [page_topic(dan.id)]
    view = account_view(session, patient_id=cara.id)
    assert view["account"]["balance"] == "$30.00"
    assert [(p["gateway_payment_id"], p["status"]) for p in view["payments"]] == [(checkout.payment_id, "succeeded")]
    assert account_view(session, patient_id=dan.id)["payments"] == []


def test_a_portal_tab_is_held_on_its_socket_and_a_staff_tab_keeps_its_session():
    from clinic_app.live.tabs import Tabs

    held = Tabs()
    held.hold("portal-tab", "sid-1")
    assert held.sid("portal-tab") == "sid-1" and held.session("portal-tab") is None
    held.bind("staff-tab", "sid-2", 42)
    held.hold("staff-tab", "sid-3")  # a staff tab's binding is the session gate's
    assert held.sid("staff-tab") == "sid-2" and held.session("staff-tab") == 42
    held.unbind("portal-tab")
    assert held.sid("portal-tab") is None


def test_a_move_or_a_cancellation_online_is_confirmed_without_the_intake_link(session, clinic, smtp):
    from clinic_app.services.frontdesk import scheduling

    mail, port = smtp
    cara = clinic.patients[0]
    cara.email = "cara@example.com"
    session.add(cara)
    session.commit()
    new_form(session, clinic)
    visit = book(session, clinic, "10:00", kind=clinic.evaluation)
    session.commit()
    sender = SmtpEmailSender(host="127.0.0.1", port=port, sender="clinic@clinic.test")
    assert confirmations.after_change(session, appointment_id=visit.id, email=sender) is True  # a move
    scheduling.transition(session, actor=clinic.reception, appointment_id=visit.id, to_status="cancelled",
                          reason="test", now=now_at("07:30"))
    assert confirmations.after_change(session, appointment_id=visit.id, email=sender) is True
    session.commit()
    (_, moved), (_, cancelled) = mail.messages
    assert moved["Subject"].startswith("Confirmed:") and cancelled["Subject"].startswith("Cancelled:")
    for message in (moved, cancelled):
        assert "/intake?token=" not in message.get_body(preferencelist=("plain",)).get_content()
        assert [a.get_filename() for a in message.iter_attachments()] == ["invite.ics"]
