"""277CA claim acknowledgements: submitted claims become accepted or rejected, all or nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from clinic_app.models import Claim, ClaimEvent
from clinic_app.services.interop.x12 import x12_validate
from clinic_app.services.platform.errors import NotAllowed
from clinic_app.services.revenue import acks, claims, era
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing
from tests.services.x12_277 import Ack, acknowledgement
from tests.services.x12_835 import Paid, remittance
from tests.services.x12_999 import functional_ack

NOW = dt.datetime(2030, 3, 14, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def sent(session, clinic):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    one = claimed_visit(session, clinic, "09:00")
    two = claimed_visit(session, clinic, "10:00", extra_codes=[("97161", 1)])
    claims.export_files(session, actor=clinic.biller, now=NOW)
    session.commit()  # the fixture is the caller: it commits what the services did
    return one, two


def _statuses(session):
    return [c.status for c in session.exec(select(Claim).order_by(Claim.id))]


def test_a_277ca_accepts_one_claim_and_rejects_the_other_onto_the_worklist(session, clinic, sent):
    one, two = sent
    text = acknowledgement([
        Ack(one.number, 7700, "A2", payer_claim_number="PAYER77"),
        Ack(two.number, 19700, "A7", "164", "SUBSCRIBER ID INVALID"),
    ])
    assert x12_validate.validate(text) == []  # a real 277CA, as pyx12 reads it
    summary = acks.import_277ca(session, actor=clinic.biller, text=text, now=NOW)
    assert (summary["accepted"], summary["rejected"], summary["unchanged"]) == (1, 1, [])
    assert _statuses(session) == ["accepted", "rejected"]
    assert session.get(Claim, one.id).payer_claim_number == "PAYER77"
    note = session.exec(select(ClaimEvent.note).where(ClaimEvent.claim_id == two.id).order_by(ClaimEvent.id.desc())).first()
    assert note == "277CA A7:164 rejected for invalid information SUBSCRIBER ID INVALID"
    [row] = era.denials(session, actor=clinic.biller)
    assert (row["number"], row["status"], row["reasons"]) == (two.number, "Rejected", note)

    # The same file again changes nothing and says why.
    again = acks.import_277ca(session, actor=clinic.biller, text=text, now=NOW)
    assert again == {"accepted": 0, "rejected": 0, "unchanged": [f"{one.number}: already accepted", f"{two.number}: already rejected"]}
    # The rejected claim is corrected and goes out again as an original (it never reached the payer).
    assert claims.resubmit(session, actor=clinic.biller, claim_id=two.id).frequency == "1"
    assert _statuses(session) == ["accepted", "draft"]


def test_a_receipt_only_acknowledgement_changes_no_status(session, clinic, sent):
    one, _ = sent
    summary = acks.import_277ca(session, actor=clinic.biller, text=acknowledgement([Ack(one.number, 7700, "A1", "19")]), now=NOW)
    assert summary["unchanged"] == [f"{one.number}: received, not yet accepted or rejected"]
    assert _statuses(session) == ["submitted", "submitted"]


def test_bad_acknowledgements_change_nothing(session, clinic, sent):
    one, _ = sent
    good = acknowledgement([Ack(one.number, 7700, "A2")])
    cases = {
        "unknown claim": (acknowledgement([Ack(one.number, 7700, "A2"), Ack("NOPE-9", 100, "A7")]), "Claim NOPE-9 in the acknowledgement matches no claim"),
        "an 835": (remittance([Paid(one.number, "1", 7700, 7700)]), "is a 835, not a 277CA claim acknowledgement"),
        "truncated": (good[: len(good) // 2], "truncated"),
        "wrong SE count": (good.replace("\nSE*", "\nSE*9", 1), "SE says 9"),
        "not X12": ("hello", "not an X12 file"),
    }
    for text, message in cases.values():
        with pytest.raises(acks.AcknowledgementRefused, match=message):
            acks.import_277ca(session, actor=clinic.biller, text=text, now=NOW)
        assert _statuses(session) == ["submitted", "submitted"]
    with pytest.raises(NotAllowed):
        acks.import_277ca(session, actor=clinic.reception, text=good, now=NOW)


def test_a_999_rejecting_the_file_rejects_its_claims_and_an_accepting_one_changes_nothing(session, clinic, sent):
    one, two = sent
    control = session.get(Claim, one.id).batch_control
    assert control and session.get(Claim, two.id).batch_control == control  # one file to Acme
    accepted = functional_ack(control, accepted=True)
    assert x12_validate.validate(accepted) == []
    summary = acks.import_ack(session, actor=clinic.biller, text=accepted, now=NOW)
    assert (summary["kind"], summary["verdict"], summary["rejected"]) == ("999", "accepted", 0)
    assert _statuses(session) == ["submitted", "submitted"]

    rejected = functional_ack(control, accepted=False, control=402)
    assert x12_validate.validate(rejected) == []
    summary = acks.import_ack(session, actor=clinic.biller, text=rejected, now=NOW)
    assert (summary["verdict"], summary["rejected"]) == ("rejected", 2)
    assert _statuses(session) == ["rejected", "rejected"]
    note = session.exec(select(ClaimEvent.note).where(ClaimEvent.claim_id == one.id).order_by(ClaimEvent.id.desc())).first()
    # IK302 is the segment's position in the transaction set (ST = 1), not in the file; codes in words.
    assert note == ("999: 837P file rejected: NM1 segment at position 17 of the transaction set: error 8 (segment has data "
                    "element errors); element 9 (data element 67): error 7 (invalid code value), bad value 'M0X'")
    assert [r["status"] for r in era.denials(session, actor=clinic.biller)] == ["Rejected", "Rejected"]
    # Corrected and sent again, the claims travel in a new file with a new control number.
    for claim in (one, two):
        claims.resubmit(session, actor=clinic.biller, claim_id=claim.id)
    claims.export_files(session, actor=clinic.biller, now=NOW + dt.timedelta(minutes=5))
    assert session.get(Claim, one.id).batch_control != control
    with pytest.raises(acks.AcknowledgementRefused, match="matches no 837P file we sent"):
        acks.import_ack(session, actor=clinic.biller, text=functional_ack("999999", accepted=False, control=403), now=NOW)
    assert _statuses(session) == ["submitted", "submitted"]
