"""Files read from the billing page: each through the service the command line uses, in one
transaction, with the answer in words; a refused file changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import func, select

from clinic_app.db import one_transaction
from clinic_app.models import Claim, LedgerEntry, Remittance
from clinic_app.services.revenue import billing_files, claims
from clinic_app.services.revenue.billing_files import FileRefused
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing
from tests.services.x12_835 import Line, Paid, remittance
from tests.services.x12_999 import functional_ack

NOW = dt.datetime(2030, 3, 13, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def sent(session, clinic, tmp_path):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    claim = claimed_visit(session, clinic, "09:00")
    claims.export(session, actor=clinic.biller, out_dir=tmp_path, now=NOW)
    session.refresh(claim)
    session.commit()  # the fixture is the caller: it commits what the services did
    return claim


def _read(engine, actor, text: str, name: str = "file.x12"):
    with one_transaction(engine) as s:
        return billing_files.read_file(s, actor=actor, data=text.encode(), name=name, now=NOW)


def _paid(session, claim):
    line = claims.claim_view(session, claim_id=claim.id)["lines"][0]
    return remittance([Paid(claim.number, "1", 7700, 5000, 1700, [
        Line("97110", 7700, 5000, 2, ("GP",), str(line.id), [("CO", "45", 1000), ("PR", "1", 1700)]),
    ])])


def test_an_835_posts_and_says_what_it_posted(engine, session, clinic, sent):
    read = _read(engine, clinic.biller, _paid(session, sent), "acme-0313.835")
    assert (read.kind, read.claims, read.paid_cents) == ("835", 1, 5000)
    assert read.words == "Posted acme-0313.835: 1 claims, $50.00 paid, 0 denied (see the denial worklist)."
    session.rollback()
    assert session.get(Claim, sent.id).status == "paid"


def test_a_broken_file_is_refused_and_nothing_changes(engine, session, clinic, sent):
    good = _paid(session, sent)
    cases = {
        "hello": "not an X12 file",
        good[: len(good) // 2]: "truncated",
        good.replace("BPR*I*50*", "BPR*I*99.99*"): "payment \\$99.99 is not what the claims paid",
        good.replace("ST*835", "ST*837"): "is an X12 837; the billing page reads 835, 999, 277CA and 271",
    }
    for text, why in cases.items():
        with pytest.raises(FileRefused, match=f"^bad.835 was refused: .*{why}.*[Nn]othing was"):
            _read(engine, clinic.biller, text, "bad.835")
    session.rollback()
    assert session.exec(select(func.count()).select_from(Remittance)).one() == 0
    assert [e.kind for e in session.exec(select(LedgerEntry)).all()] == ["charge"]
    assert session.get(Claim, sent.id).status == "submitted"


def test_a_999_that_rejects_the_file_rejects_its_claims(engine, session, clinic, sent):
    read = _read(engine, clinic.biller, functional_ack(sent.batch_control, accepted=False), "ack.999")
    assert read.kind == "999"
    assert read.words == f"Read ack.999 (999): 837P file {sent.batch_control} rejected; 1 claims rejected."
    session.expire_all()  # read what the file's own transaction wrote
    assert session.get(Claim, sent.id).status == "rejected"


def test_a_271_answer_updates_its_coverage_in_words(engine, session, clinic):
    from clinic_app.services.revenue import eligibility
    from tests.services.test_eligibility import ACTIVE_WITH_MONEY, answer_271

    coverage = cover(session, clinic, set_up_billing(session, clinic))
    eligibility.request_270(session, actor=clinic.biller, coverage_id=coverage.id, now=NOW)
    session.commit()  # the test is the caller
    session.refresh(coverage)
    with one_transaction(engine) as s:
        read = billing_files.read_file(s, actor=clinic.biller, name="acme.271", tz="America/New_York", now=NOW,
                                       data=answer_271(coverage.eligibility_trace, coverage.member_id, *ACTIVE_WITH_MONEY).encode())
    assert read.kind == "271"
    assert read.words == (f"Read acme.271 (271): Acme Health, member {coverage.member_id}: Active (checked 2030-03-13 11:00): "
                          "copay $25.00, deductible remaining $312.50.")
