"""Secondary claims: after the primary pays, its balance is billed to the secondary payer
with the primary's adjudication in the 837P, and the secondary's 835 posts to the cent."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from clinic_app.models import Claim, ClaimLine, LedgerEntry, Remittance
from clinic_app.services.interop.x12 import x12_validate
from clinic_app.services.platform.errors import IllegalTransition, NotAllowed
from clinic_app.services.revenue import claims, cob, era, ledger, payers
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing
from tests.services.x12_835 import Line, Paid, remittance

NOW = dt.datetime(2030, 3, 13, 15, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2030, 3, 21, 15, 0, tzinfo=dt.UTC)


def _lines(session, claim):
    return session.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_no)).all()


def _second_payer(session, clinic):
    beta = payers.create_payer(session, actor=clinic.biller, name="Beta Mutual", payer_id="BETA2")
    payers.set_fee(session, actor=clinic.biller, payer_id=beta.id, code="97110", amount="35")
    return beta


@pytest.fixture
def sent(session, clinic, tmp_path):
    """A submitted claim to Acme ($77 + $120) for a patient who also has Beta as secondary."""
    acme = set_up_billing(session, clinic)
    beta = _second_payer(session, clinic)
    cover(session, clinic, acme)
    cover(session, clinic, beta, priority=2)
    claim = claimed_visit(session, clinic, "09:00", extra_codes=[("97161", 1)])
    claims.export(session, actor=clinic.biller, out_dir=tmp_path / "first", now=NOW)
    session.commit()  # the fixture is the caller: it commits what the services did
    return claim, beta


def _primary_paid(session, claim):
    one, two = _lines(session, claim)
    return remittance([Paid(claim.number, "1", 19700, 14200, 2700, [
        Line("97110", 7700, 5000, 2, ("GP",), str(one.id), [("CO", "45", 1000), ("PR", "1", 1700)]),
        Line("97161", 12000, 9200, 1, ("GP",), str(two.id), [("CO", "45", 1800), ("PR", "3", 1000)]),
    ])], trace="ACMECHK")


def _secondary_paid(session, secondary, *, oa23=(6000, 11000), pr=500, control=202):
    one, two = _lines(session, secondary)
    return remittance([Paid(secondary.number, "2", 19700, 2200, pr, [
        Line("97110", 7700, 7700 - oa23[0] - pr, 2, ("GP",), str(one.id), [("OA", "23", oa23[0]), ("PR", "2", pr)]),
        Line("97161", 12000, 12000 - oa23[1], 1, ("GP",), str(two.id), [("OA", "23", oa23[1])]),
    ], payer_claim_number="BETA0001")], trace="BETACHK", payer="BETA MUTUAL", control=control)


def test_primary_payment_bills_the_balance_to_the_secondary_and_its_835_balances(session, clinic, sent, tmp_path):
    claim, beta = sent
    patient_id = clinic.patients[0].id
    summary = era.post(session, actor=clinic.biller, text=_primary_paid(session, claim), now=NOW)

    secondary = session.exec(select(Claim).where(Claim.primary_claim_id == claim.id)).one()
    assert summary["secondary_claims"] == [secondary.number]
    assert (secondary.payer_id, secondary.status, secondary.total_cents) == (beta.id, "draft", 19700)
    assert [(ln.code, ln.units, ln.amount_cents) for ln in _lines(session, secondary)] == [("97110", 2, 7700), ("97161", 1, 12000)]
    # The $27.00 the primary left to the patient is now owed by the secondary payer.
    assert ledger.balances(session, patient_id=patient_id) == {"patient": 0, "insurance": 2700, "total": 2700}
    assert cob.owed_by_payer(session, claim=secondary) == 2700

    # The 837P to Beta carries the primary's adjudication and passes pyx12.
    [path] = claims.export(session, actor=clinic.biller, out_dir=tmp_path / "second", now=LATER)
    text = path.read_text()
    assert "BETA2" in path.name and x12_validate.validate(text) == []
    segments = text.replace("\n", "").split("~")
    assert "SBR*S*18*G77******CI" in segments  # 2000B: Beta pays second
    assert "SBR*P*18*G77******CI" in segments  # 2320: Acme was primary
    assert "AMT*D*142" in segments and "AMT*EAF*27" in segments
    assert "NM1*PR*2*ACME HEALTH*****PI*ACME1" in segments  # 2330B
    assert "SVD*ACME1*50*HC:97110:GP**2" in segments and "SVD*ACME1*92*HC:97161:GP**1" in segments
    assert "CAS*CO*45*10" in segments and "CAS*PR*1*17" in segments and "CAS*PR*3*10" in segments
    assert segments.count("DTP*573*D8*20300320") == 2  # each line's adjudication date
    assert session.get(Claim, secondary.id).status == "submitted"

    # Beta's 835 posts against the secondary claim, to the cent; the patient owes Beta's PR.
    answer = _secondary_paid(session, secondary)
    assert x12_validate.validate(answer) == []
    second = era.post(session, actor=clinic.biller, text=answer, now=LATER)
    assert (second["claims"], second["paid_cents"], second["secondary_claims"]) == (1, 2200, [])
    assert session.get(Claim, secondary.id).status == "paid"
    assert session.get(Claim, secondary.id).payer_claim_number == "BETA0001"
    assert ledger.balances(session, patient_id=patient_id) == {"patient": 500, "insurance": 0, "total": 500}
    beta_column = session.exec(
        select(func.sum(LedgerEntry.amount_cents)).where(LedgerEntry.patient_id == patient_id, LedgerEntry.payer_id == beta.id)
    ).one()
    assert beta_column == 0


def test_a_secondary_835_that_does_not_account_for_the_balance_posts_nothing(session, clinic, sent):
    claim, _ = sent
    era.post(session, actor=clinic.biller, text=_primary_paid(session, claim), now=NOW)
    secondary = session.exec(select(Claim).where(Claim.primary_claim_id == claim.id)).one()
    claims.export_files(session, actor=clinic.biller, now=LATER)
    before = session.exec(select(func.count()).select_from(LedgerEntry)).one()
    # OA-23 claims $65 + $110 of the prior payer: with $22 paid, only $17 + $5 of the $27 is accounted for.
    wrong = _secondary_paid(session, secondary, oa23=(6500, 11000), pr=0)
    with pytest.raises(era.RemittanceRefused, match=r"secondary claim for \$27.00 .* pays and adjusts \$22.00"):
        era.post(session, actor=clinic.biller, text=wrong, now=LATER)
    assert session.exec(select(func.count()).select_from(LedgerEntry)).one() == before
    assert session.exec(select(func.count()).select_from(Remittance)).one() == 1
    assert session.get(Claim, secondary.id).status == "submitted"


def test_the_biller_bills_the_secondary_by_hand_when_coverage_comes_later(session, clinic, tmp_path):
    acme = set_up_billing(session, clinic)
    beta = _second_payer(session, clinic)
    cover(session, clinic, acme)
    claim = claimed_visit(session, clinic, "09:00", extra_codes=[("97161", 1)])
    with pytest.raises(IllegalTransition, match="not paid by the primary payer yet"):
        cob.create_secondary_claim(session, actor=clinic.biller, claim_id=claim.id)
    claims.export(session, actor=clinic.biller, out_dir=tmp_path, now=NOW)
    summary = era.post(session, actor=clinic.biller, text=_primary_paid(session, claim), now=NOW)
    assert summary["secondary_claims"] == []  # no secondary coverage yet: the patient owes it
    assert ledger.balances(session, patient_id=clinic.patients[0].id)["patient"] == 2700
    with pytest.raises(IllegalTransition, match="no secondary coverage on 2030-03-12"):
        cob.create_secondary_claim(session, actor=clinic.biller, claim_id=claim.id)

    cover(session, clinic, beta, priority=2)
    [row] = claims.recent_claims(session, actor=clinic.biller)
    assert row["can_bill_secondary"] and row["follows"] == ""  # the page offers "Bill secondary payer"
    with pytest.raises(NotAllowed):
        cob.create_secondary_claim(session, actor=clinic.reception, claim_id=claim.id)
    secondary = cob.create_secondary_claim(session, actor=clinic.biller, claim_id=claim.id, now=LATER)
    assert (secondary.payer_id, secondary.primary_claim_id, secondary.status) == (beta.id, claim.id, "draft")
    assert ledger.balances(session, patient_id=clinic.patients[0].id) == {"patient": 0, "insurance": 2700, "total": 2700}
    with pytest.raises(IllegalTransition, match="already has a secondary claim"):
        cob.create_secondary_claim(session, actor=clinic.biller, claim_id=claim.id)
    rows = {r["number"]: r for r in claims.recent_claims(session, actor=clinic.biller)}
    assert not rows[claim.number]["can_bill_secondary"]
    assert rows[secondary.number]["follows"] == f"secondary, after {claim.number}"
    with pytest.raises(IllegalTransition, match="is itself a secondary claim"):
        cob.create_secondary_claim(session, actor=clinic.biller, claim_id=secondary.id)


def test_the_database_allows_one_secondary_claim_per_primary(session, clinic, sent):
    claim, _ = sent
    era.post(session, actor=clinic.biller, text=_primary_paid(session, claim), now=NOW)
    secondary = session.exec(select(Claim).where(Claim.primary_claim_id == claim.id)).one()
    twin = Claim(number="S-TWIN", appointment_id=claim.appointment_id, patient_id=claim.patient_id, payer_id=secondary.payer_id,
                 coverage_id=secondary.coverage_id, primary_claim_id=claim.id, service_date=claim.service_date, total_cents=1)
    session.add(twin)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
