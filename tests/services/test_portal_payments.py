"""Paying online (issue 18) through the local gateway: amounts checked on the server (nothing
posted when refused), one posting per payment however often it is confirmed, the ledger's
balance after it, the KPIs/billing pages told on commit, and the receipt through a real SMTP
server. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.live import ClaimsChanged, bus
from clinic_app.live.events import PaymentsChanged
from clinic_app.models import AuditLog, LedgerEntry, OnlinePayment
from clinic_app.services.frontdesk.reminders import SmtpEmailSender
from clinic_app.services.platform.errors import InvalidInput, NotFound
from clinic_app.services.portal import payments
from clinic_app.services.portal.payments import APPROVE_CARD, DECLINE_CARD, GatewayResult, LocalGateway
from clinic_app.services.revenue import ledger
from tests.conftest import DAY
from tests.services.helpers import now_at
from tests.smtp import free_port

GATEWAY = LocalGateway(key=b"test-local-gateway")


def owes(session, patient, cents: int) -> None:
    """A charge of ``cents`` the patient owes (committed, as the desk's billing would)."""
    session.add(LedgerEntry(patient_id=patient.id, kind="charge", amount_cents=cents, created_at=now_at("07:00")))
    session.commit()


def payments_posted(session, patient) -> list[LedgerEntry]:
    return list(session.exec(select(LedgerEntry).where(LedgerEntry.patient_id == patient.id, LedgerEntry.kind == "payment")))


def start(session, patient, cents, key="key-0000000001", **kw):
    return payments.start_payment(session, gateway=GATEWAY, patient_id=patient.id, amount_cents=cents,
                                  idempotency_key=key, now=now_at("08:00"), **kw)


@pytest.mark.parametrize(("amount", "words"), [
    (-500, "more than $0.00"),
    (0, "more than $0.00"),
    (12.5, "whole number of cents"),
    ("2500", "whole number of cents"),
    (True, "whole number of cents"),
    (5001, "You owe $50.00; pay at most that."),
    (2_000_000, "at most $10,000.00"),
])
def test_a_bad_amount_is_refused_in_words_and_nothing_is_started_or_posted(session, clinic, amount, words):
    cara = clinic.patients[0]
    owes(session, cara, 5000)
    with pytest.raises(InvalidInput, match=words.replace("$", r"\$").replace(".", r"\.")):
        start(session, cara, amount)
    session.rollback()
    assert session.exec(select(OnlinePayment)).all() == []
    assert payments_posted(session, cara) == []
    assert ledger.balances(session, patient_id=cara.id)["patient"] == 5000


def test_nothing_owed_means_nothing_to_pay_unless_the_clinic_allows_prepaying(session, clinic):
    eli = clinic.patients[1]
    with pytest.raises(InvalidInput, match="You owe nothing right now"):
        start(session, eli, 1000, allow_prepay=False, prepay=True)
    session.rollback()
    with pytest.raises(InvalidInput, match="You owe nothing right now"):
        start(session, eli, 1000, allow_prepay=True)  # allowed, but the patient did not ask to prepay
    session.rollback()
    row, checkout = start(session, eli, 1000, allow_prepay=True, prepay=True)
    session.commit()
    assert (row.status, row.prepayment, row.amount_cents) == ("pending", True, 1000)
    token = GATEWAY.authorize(checkout.client_secret, card_number=APPROVE_CARD)
    payments.confirm_payment(session, gateway=GATEWAY, payment_id=checkout.payment_id, token=token)
    session.commit()
    assert ledger.balances(session, patient_id=eli.id)["patient"] == -1000  # a credit on account


def test_a_payment_through_the_local_gateway_posts_to_the_ledger_once(session, clinic):
    cara = clinic.patients[0]
    owes(session, cara, 5000)
    with bus.held() as sent:
        row, checkout = start(session, cara, 2000)
        session.commit()
        # A double click: the same form's key gives the same payment, not a second one.
        again, checkout2 = start(session, cara, 2000)
        session.commit()
        assert again.id == row.id and checkout2.payment_id == checkout.payment_id
        with pytest.raises(InvalidInput, match="already used for another amount"):
            start(session, cara, 2500)
        session.rollback()
        assert checkout.payment_id.startswith("loc_") and checkout.redirect_url == f"/pay/local/{checkout.payment_id}"
        # The card goes to the gateway's page, which hands back a signed result.
        token = GATEWAY.authorize(checkout.client_secret, card_number="4242 4242 4242 4242")
        paid = payments.confirm_payment(session, gateway=GATEWAY, payment_id=checkout.payment_id, token=token,
                                        now=now_at("08:05"))
        assert sent == []  # nothing announced before the commit
        session.commit()
        assert sent == [ClaimsChanged(what="ledger payment online"), PaymentsChanged(patient_id=cara.id)]
        # The page reloaded, the result posted again: still one posting.
        payments.confirm_payment(session, gateway=GATEWAY, payment_id=checkout.payment_id, token=token)
        session.commit()
    [entry] = payments_posted(session, cara)
    assert (paid.status, paid.ledger_entry_id, paid.settled_at) == ("succeeded", entry.id, now_at("08:05"))
    assert (entry.amount_cents, entry.method, entry.reference, entry.user_id) == (-2000, "card", checkout.payment_id, None)
    assert ledger.balances(session, patient_id=cara.id) == {"patient": 3000, "insurance": 0, "total": 3000}
    view = payments.account(session, patient_id=cara.id)
    assert (view["balance"], view["entries"][0]["kind"], view["entries"][0]["amount"]) == ("$30.00", "Payment", "-$20.00")
    actions = [a.action for a in session.exec(select(AuditLog).where(AuditLog.patient_id == cara.id))]
    assert {"payment:start", "payment:succeeded", "ledger:payment"} <= set(actions)


def test_a_second_session_confirming_the_same_payment_posts_nothing_more(engine, session, clinic):
    cara = clinic.patients[0]
    owes(session, cara, 5000)
    _, checkout = start(session, cara, 5000)
    session.commit()
    token = GATEWAY.authorize(checkout.client_secret, outcome="succeeded")
    for _ in range(2):  # the page's return and the webhook, each in its own transaction
        with Session(engine, expire_on_commit=False) as other:
            payments.confirm_payment(other, gateway=GATEWAY, payment_id=checkout.payment_id, token=token)
            other.commit()
    assert len(payments_posted(session, cara)) == 1
    assert ledger.balances(session, patient_id=cara.id)["patient"] == 0


def test_a_declined_card_posts_nothing_and_a_forged_result_is_refused(session, clinic):
    cara = clinic.patients[0]
    owes(session, cara, 5000)
    _, checkout = start(session, cara, 5000)
    session.commit()
    declined = GATEWAY.authorize(checkout.client_secret, card_number=DECLINE_CARD)
    row = payments.confirm_payment(session, gateway=GATEWAY, payment_id=checkout.payment_id, token=declined)
    session.commit()
    assert (row.status, row.decline_reason, row.ledger_entry_id) == ("declined", "Your card was declined.", None)
    with pytest.raises(InvalidInput, match="use 4242 4242 4242 4242"):
        GATEWAY.authorize(checkout.client_secret, card_number="5555 5555 5555 4444")
    forged = declined.replace("declined", "succeeded")
    with pytest.raises(InvalidInput, match="could not be verified"):
        payments.confirm_payment(session, gateway=GATEWAY, payment_id=checkout.payment_id, token=forged)
    session.rollback()
    with pytest.raises(InvalidInput, match="link is not valid"):
        GATEWAY.authorize(checkout.client_secret.replace(":5000:", ":1:"), outcome="succeeded")
    # The gateway reporting another amount than was asked for is not posted either.
    with pytest.raises(InvalidInput, match="another amount"):
        payments.settle(session, result=GatewayResult("local", checkout.payment_id, "succeeded", 4999, "usd"))
    session.rollback()
    with pytest.raises(NotFound):
        payments.settle(session, result=GatewayResult("local", "loc_unknown", "succeeded", 5000, "usd"))
    session.rollback()
    assert payments_posted(session, cara) == []
    # A second try with a good card succeeds on the same payment.
    approved = GATEWAY.authorize(checkout.client_secret, card_number=APPROVE_CARD)
    assert payments.confirm_payment(session, gateway=GATEWAY, payment_id=checkout.payment_id, token=approved).status == "succeeded"
    session.commit()
    assert ledger.balances(session, patient_id=cara.id)["patient"] == 0


def test_a_patient_sees_only_their_own_payment(session, clinic):
    cara, eli = clinic.patients[0], clinic.patients[1]
    owes(session, cara, 5000)
    _, checkout = start(session, cara, 1000)
    session.commit()
    assert payments.payment_for(session, patient_id=cara.id, payment_id=checkout.payment_id).amount_cents == 1000
    with pytest.raises(NotFound):
        payments.payment_for(session, patient_id=eli.id, payment_id=checkout.payment_id)


def test_the_receipt_goes_out_once_through_smtp(session, clinic, smtp):
    inbox, port = smtp
    cara = clinic.patients[0]
    cara.email = "cara@example.com"
    session.add(cara)
    owes(session, cara, 5000)
    _, checkout = start(session, cara, 2000)
    token = GATEWAY.authorize(checkout.client_secret, outcome="succeeded")
    row = payments.confirm_payment(session, gateway=GATEWAY, payment_id=checkout.payment_id, token=token)
    session.commit()
    sender = SmtpEmailSender(host="127.0.0.1", port=port, sender="billing@clinic.test")
    assert payments.send_receipt(session, online_payment_id=row.id, email=sender, now=now_at("08:10")) is True
    session.commit()
    assert payments.send_receipt(session, online_payment_id=row.id, email=sender) is False
    session.commit()
    [(to, message)] = inbox.messages
    assert to == ["cara@example.com"]
    assert message["Subject"] == "Receipt: your payment of $20.00 to Clinic"
    body = message.get_content()
    assert "we received your payment of $20.00" in body and f"Payment reference: {checkout.payment_id}" in body
    assert "Your balance is now $30.00." in body
    assert "4242" not in body
    assert session.get(OnlinePayment, row.id).receipt_sent_at == now_at("08:10")


def test_a_failed_send_leaves_the_receipt_to_send_again(session, clinic):
    cara = clinic.patients[0]
    cara.email = "cara@example.com"
    session.add(cara)
    owes(session, cara, 5000)
    _, checkout = start(session, cara, 2000)
    row = payments.confirm_payment(session, gateway=GATEWAY, payment_id=checkout.payment_id,
                                   token=GATEWAY.authorize(checkout.client_secret, outcome="succeeded"))
    session.commit()
    with pytest.raises(OSError):
        payments.send_receipt(session, online_payment_id=row.id, email=SmtpEmailSender(host="127.0.0.1", port=free_port()))
    session.rollback()
    assert session.get(OnlinePayment, row.id).receipt_sent_at is None


def test_the_database_keeps_one_row_per_gateway_payment_and_only_positive_amounts(session, clinic):
    cara = clinic.patients[0]

    def insert(**kw) -> None:
        values = {"patient_id": cara.id, "gateway": "local", "gateway_payment_id": "loc_a",
                  "idempotency_key": "key-a-000000", "amount_cents": 100, **kw}
        session.add(OnlinePayment(**values))
        session.commit()

    insert()
    for bad in ({"idempotency_key": "key-b-000000"},  # the same gateway payment twice
                {"gateway_payment_id": "loc_b"},  # the same checkout key twice
                {"gateway_payment_id": "loc_c", "idempotency_key": "key-c-000000", "amount_cents": 0},
                {"gateway_payment_id": "loc_d", "idempotency_key": "key-d-000000", "status": "succeeded"}):
        with pytest.raises(IntegrityError):
            insert(**bad)
        session.rollback()
    assert len(session.exec(select(OnlinePayment)).all()) == 1


def test_the_webhook_and_the_return_page_at_the_same_moment_post_once(engine, session, clinic):
    import threading

    cara = clinic.patients[0]
    owes(session, cara, 5000)
    _, checkout = start(session, cara, 4000)
    session.commit()
    result = GatewayResult("local", checkout.payment_id, "succeeded", 4000, "usd")
    barrier, errors = threading.Barrier(4), []

    def settle_once() -> None:
        try:
            with Session(engine, expire_on_commit=False) as own:
                barrier.wait()
                payments.settle(own, result=result)
                own.commit()
        except Exception as exc:  # collected: the test fails with it below
            errors.append(exc)

    threads = [threading.Thread(target=settle_once) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(payments_posted(session, cara)) == 1
    assert ledger.balances(session, patient_id=cara.id)["patient"] == 1000


def test_the_patients_own_statement_is_the_desks_pdf(session, clinic):
    from tests.services.test_statements import pdf_text

    cara = clinic.patients[0]
    owes(session, cara, 5000)
    _, checkout = start(session, cara, 2000)
    payments.confirm_payment(session, gateway=GATEWAY, payment_id=checkout.payment_id,
                             token=GATEWAY.authorize(checkout.client_secret, outcome="succeeded"))
    session.commit()
    text = pdf_text(payments.statement(session, patient_id=cara.id, as_of=DAY))
    session.commit()
    assert "Statement for Cara Diaz" in text
    assert f"Payment (you) by card ref {checkout.payment_id}" in text and "-$20.00" in text
    assert "Amount you owe" in text and "$30.00" in text
    [printed] = session.exec(select(AuditLog).where(AuditLog.action == "print", AuditLog.entity == "statement")).all()
    assert (printed.patient_id, printed.source) == (cara.id, "portal")
