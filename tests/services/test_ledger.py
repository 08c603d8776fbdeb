"""The patient ledger: immutable entries, balances derived, corrections by reversal."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from clinic_app.models import LedgerEntry, Patient
from clinic_app.services.platform.errors import ClinicError, InvalidInput, NotAllowed, from_db_error
from clinic_app.services.revenue import billing, ledger
from tests.services.revenue_helpers import signed_visit


def test_self_pay_billing_payments_and_refunds_move_the_patient_balance(session, clinic):
    appt = signed_visit(session, clinic)
    billing.mark_billed(session, actor=clinic.biller, appointment_id=appt.id)
    pid = clinic.patients[0].id
    assert ledger.balances(session, patient_id=pid) == {"patient": 9000, "insurance": 0, "total": 9000}
    ledger.take_payment(session, actor=clinic.reception, patient_id=pid, amount="50", method="cash")
    ledger.take_payment(session, actor=clinic.reception, patient_id=pid, amount="60.00", method="card", reference="TERM-4471 AUTH 99812")
    assert ledger.balances(session, patient_id=pid)["patient"] == -2000  # a $20 credit
    with pytest.raises(InvalidInput, match=r"credit is \$20\.00"):
        ledger.refund(session, actor=clinic.biller, patient_id=pid, amount="25", method="cash", reason="overpaid")
    with pytest.raises(InvalidInput, match="Say why the refund is paid"):
        ledger.refund(session, actor=clinic.biller, patient_id=pid, amount="20", method="cash", reason="  ")
    ledger.refund(session, actor=clinic.biller, patient_id=pid, amount="20", method="cheque", reference="1042", reason="overpaid")
    assert ledger.balances(session, patient_id=pid)["patient"] == 0
    assert [e.kind for e in ledger.entries(session, patient_id=pid)] == ["charge", "payment", "payment", "refund"]


def test_card_payments_take_a_terminal_reference_never_a_card_number(session, clinic):
    pid = clinic.patients[0].id
    for ref in ("4111 1111 1111 1111", "4111-1111-1111-1111", "ref 5500000000000004"):
        with pytest.raises(InvalidInput, match="looks like a card number"):
            ledger.take_payment(session, actor=clinic.reception, patient_id=pid, amount="10", method="card", reference=ref)
    with pytest.raises(InvalidInput, match="terminal's reference"):
        ledger.take_payment(session, actor=clinic.reception, patient_id=pid, amount="10", method="card")
    with pytest.raises(InvalidInput, match="cash, cheque or card"):
        ledger.take_payment(session, actor=clinic.reception, patient_id=pid, amount="10", method="bitcoin")
    with pytest.raises(NotAllowed):
        ledger.take_payment(session, actor=clinic.clinician, patient_id=pid, amount="10", method="cash")
    assert ledger.entries(session, patient_id=pid) == []


def test_a_correction_is_a_reversing_entry_and_happens_once(session, clinic):
    pid = clinic.patients[0].id
    pay = ledger.take_payment(session, actor=clinic.reception, patient_id=pid, amount="30", method="cash")
    fix = ledger.reverse(session, actor=clinic.biller, entry_id=pay.id, reason="entered on the wrong patient")
    assert (fix.kind, fix.amount_cents, fix.reverses_id) == ("payment", 3000, pay.id)
    assert session.get(LedgerEntry, pay.id).amount_cents == -3000  # the original stands
    assert ledger.balances(session, patient_id=pid)["total"] == 0
    with pytest.raises(InvalidInput, match="already reversed"):
        ledger.reverse(session, actor=clinic.biller, entry_id=pay.id, reason="again")
    with pytest.raises(InvalidInput, match="itself a correction"):
        ledger.reverse(session, actor=clinic.biller, entry_id=fix.id, reason="undo")


def test_the_database_keeps_the_ledger_append_only_and_refuses_card_numbers(engine, session, clinic):
    pid = clinic.patients[0].id
    ledger.take_payment(session, actor=clinic.reception, patient_id=pid, amount="30", method="cash")
    for statement, rule in (
        ("UPDATE ledger_entry SET amount_cents = 1", "ledger_entry_append_only"),
        ("DELETE FROM ledger_entry", "ledger_entry_append_only"),
        (f"INSERT INTO ledger_entry (patient_id, kind, amount_cents, method, reference, reason, created_at) "
         f"VALUES ({pid}, 'payment', -100, 'card', '4111111111111111', '', '2030-01-01')", "card_number_refused"),
    ):
        session.commit()  # the test is the caller: its work is saved before another connection writes
        with Session(engine) as raw, pytest.raises(IntegrityError, match=rule) as info:
            raw.execute(text(statement))
            raw.commit()
        assert isinstance(from_db_error(info.value), ClinicError)
    # A second reversal of one entry is refused by the database too.
    session.commit()  # the test is the caller: its work is saved before another connection writes
    with Session(engine) as raw, pytest.raises(IntegrityError):
        for _ in range(2):
            raw.add(LedgerEntry(patient_id=pid, kind="payment", amount_cents=3000, reverses_id=1))
        raw.commit()
    assert [e.amount_cents for e in ledger.entries(session, patient_id=pid)] == [-3000]


# -- property tests: whatever happens, the ledger adds up ------------------------------
operations = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(1, 50_000), st.sampled_from(["cash", "cheque", "card"])),
        st.tuples(st.just("refund"), st.integers(1, 50_000), st.just("cash")),
        st.tuples(st.just("write_off"), st.integers(1, 50_000), st.just("")),
        st.tuples(st.just("reverse"), st.integers(0, 30), st.just("")),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(charge=st.integers(0, 500_000), ops=operations)
def test_ledger_invariants_hold_for_any_sequence(session, clinic, charge, ops):
    patient = Patient(mrn=f"H{abs(hash((charge, tuple(ops)))) % 10**12}", first_name="Prop", last_name="Erty", birth_date=dt.date(1990, 1, 1))
    session.add(patient)
    session.commit()
    pid = patient.id
    session.add(LedgerEntry(patient_id=pid, kind="charge", amount_cents=charge))
    session.commit()
    expected = charge
    for op, cents, method in ops:
        before = [(e.id, e.amount_cents) for e in ledger.entries(session, patient_id=pid)]
        done = True
        try:
            if op == "pay":
                ledger.take_payment(session, actor=clinic.biller, patient_id=pid, amount=cents, method=method, reference="R1")
                expected -= cents
            elif op == "refund":
                ledger.refund(session, actor=clinic.biller, patient_id=pid, amount=cents, method=method, reason="credit")
                expected += cents
            elif op == "write_off":
                ledger.write_off(session, actor=clinic.biller, patient_id=pid, amount=cents, reason="small balance")
                expected -= cents
            else:
                target = before[cents % len(before)]
                ledger.reverse(session, actor=clinic.biller, entry_id=target[0], reason="correction")
                expected -= target[1]
        except InvalidInput:
            done = False
            session.rollback()
            # A refused operation changes nothing.
            assert [(e.id, e.amount_cents) for e in ledger.entries(session, patient_id=pid)] == before
        else:
            session.commit()  # the test is the caller: a done operation is saved
        after = ledger.entries(session, patient_id=pid)
        # Entries are only ever added; none changes.
        assert [(e.id, e.amount_cents) for e in after][: len(before)] == before
        # The balance is the sum of the entries, and it is what the operations imply.
        assert ledger.balances(session, patient_id=pid)["total"] == sum(e.amount_cents for e in after) == expected
        # A refund never pays out more than the credit; a write-off never exceeds the debt.
        if done and op == "refund":
            assert expected <= 0
        if done and op == "write_off":
            assert expected >= 0
    # Every entry is reversed at most once, and reversing all that stand clears the account.
    entries = ledger.entries(session, patient_id=pid)
    reversed_ids = [e.reverses_id for e in entries if e.reverses_id]
    assert len(reversed_ids) == len(set(reversed_ids))
    for e in entries:
        if e.reverses_id is None and e.id not in reversed_ids:
            ledger.reverse(session, actor=clinic.biller, entry_id=e.id, reason="close")
    assert ledger.balances(session, patient_id=pid)["total"] == 0
    assert len(session.exec(select(LedgerEntry).where(LedgerEntry.patient_id == pid)).all()) == 2 * (len(entries) - len(reversed_ids))


def test_account_lookup_by_mrn_shows_balances_and_entries(session, clinic):
    pid = clinic.patients[1].id
    ledger.take_payment(session, actor=clinic.reception, patient_id=pid, amount="12.5", method="cheque", reference="881")
    found = ledger.account(session, actor=clinic.biller, mrn=" t1 ")
    assert found["name"] == "Fox, Eli (T1)"
    assert found["balances"]["patient"] == -1250
    assert [(e["kind"], e["party"], e["detail"], e["amount_cents"]) for e in found["entries"]] == [("Payment", "patient", "cheque 881", -1250)]
    with pytest.raises(ClinicError, match="No patient has the MRN 'X9'"):
        ledger.account(session, actor=clinic.biller, mrn="X9")
