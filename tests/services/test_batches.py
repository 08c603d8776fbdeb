"""Claim batches: written once (one valid 837P per payer, zipped), downloaded as often as
needed with the same bytes, sent once; the claims are submitted only when it is sent."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from clinic_app.models import Claim, ClaimBatch
from clinic_app.services.interop.x12 import x12_validate
from clinic_app.services.platform.errors import IllegalTransition, InvalidInput, NotAllowed, from_db_error
from clinic_app.services.revenue import acks, batches, payers
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing
from tests.services.x12_999 import functional_ack

NOW = dt.datetime(2030, 3, 13, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def two_payers(session, clinic):
    """Three draft claims: two to Acme Health, one to Other Care."""
    payer = set_up_billing(session, clinic)
    other = payers.create_payer(session, actor=clinic.biller, name="Other Care", payer_id="OC1")
    cover(session, clinic, payer)
    made = [claimed_visit(session, clinic, hhmm) for hhmm in ("09:00", "10:00", "11:00")]
    made[2].payer_id = other.id
    session.add(made[2])
    session.commit()
    return made


def _files(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode("ascii") for name in archive.namelist()}


def _statuses(session) -> list[str]:
    session.commit()  # the test is the caller: it commits what the services did, then reads
    return [c.status for c in session.exec(select(Claim).order_by(Claim.id))]


def test_a_batch_is_one_valid_837p_per_payer_downloaded_again_and_sent_once(session, clinic, two_payers):
    batch = batches.create_batch(session, actor=clinic.biller, now=NOW)
    assert (batch.claim_count, batch.status, batch.payer_names) == (3, "ready", "Acme Health, Other Care")
    name, data = batches.download(session, actor=clinic.biller, batch_id=batch.id)
    assert name == "claims-batch-0001-20300313-1500.zip"
    files = _files(data)
    assert len(files) == 2
    for text_ in files.values():
        assert x12_validate.validate(text_) == []
    assert sorted(t.count("CLM*") for t in files.values()) == [1, 2]
    assert _statuses(session) == ["draft"] * 3  # written, not yet sent
    with pytest.raises(InvalidInput, match="No claims are waiting for a batch"):
        batches.create_batch(session, actor=clinic.biller, now=NOW)
    assert batches.download(session, actor=clinic.biller, batch_id=batch.id) == (name, data)  # the same bytes again

    sent = batches.mark_sent(session, actor=clinic.biller, batch_id=batch.id, now=NOW)
    assert (sent["submitted"], sent["unchanged"]) == (3, [])
    assert _statuses(session) == ["submitted"] * 3
    with pytest.raises(IllegalTransition, match="already sent"):
        batches.mark_sent(session, actor=clinic.biller, batch_id=batch.id, now=NOW)
    assert batches.download(session, actor=clinic.biller, batch_id=batch.id) == (name, data)  # still there once sent
    [row] = batches.recent(session, actor=clinic.biller, tz="America/Chicago")
    assert row["status_words"] == "Sent 2030-03-13 10:00 CDT (marked sent by the biller)"

    # A 999 rejecting one of the batch's files finds its claims by the file's control number.
    acme = two_payers[0]
    session.refresh(acme)
    acks.import_999(session, actor=clinic.biller, text=functional_ack(acme.batch_control, accepted=False), now=NOW)
    assert _statuses(session) == ["rejected", "rejected", "submitted"]


def test_only_billers_make_batches(session, clinic, two_payers):
    with pytest.raises(NotAllowed):
        batches.create_batch(session, actor=clinic.reception, now=NOW)


def test_a_batch_is_written_into_the_outbox_or_not_sent_at_all(session, clinic, two_payers, tmp_path):
    batch = batches.create_batch(session, actor=clinic.biller, now=NOW)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the outbox folder should be")
    with pytest.raises(InvalidInput, match=r"outbox folder could not be written.*not sent"):
        batches.send_to_outbox(session, actor=clinic.biller, batch_id=batch.id, outbox=blocked / "out", now=NOW)
    assert _statuses(session) == ["draft"] * 3
    outbox = tmp_path / "outbox"
    sent = batches.send_to_outbox(session, actor=clinic.biller, batch_id=batch.id, outbox=outbox, now=NOW)
    assert sent["submitted"] == 3
    assert sorted(p.name for p in outbox.iterdir()) == sorted(_files(batches.download(session, actor=clinic.biller,
                                                                                      batch_id=batch.id)[1]))
    assert session.get(ClaimBatch, batch.id).sent_how == "written to the outbox (2 files)"


def test_the_database_keeps_a_batch_as_written(session, clinic, two_payers):
    batch = batches.create_batch(session, actor=clinic.biller, now=NOW)
    session.commit()
    with pytest.raises(DBAPIError) as refused:
        session.execute(text("UPDATE claim_batch SET zip_data = :d WHERE id = :i"), {"d": b"other", "i": batch.id})
        session.flush()
    assert isinstance(from_db_error(refused.value), NotAllowed)
    session.rollback()
    batches.mark_sent(session, actor=clinic.biller, batch_id=batch.id, now=NOW)
    for statement in ("UPDATE claim_batch SET sent_how = 'edited' WHERE id = :i", "DELETE FROM claim_batch_claim WHERE batch_id = :i"):
        with pytest.raises(DBAPIError):
            session.execute(text(statement), {"i": batch.id})
        session.rollback()


def test_batches_tell_billing_pages_after_the_commit_and_refusals_tell_no_one(monkeypatch, session, clinic, two_payers):
    from clinic_app.live import ClaimsChanged, bus

    published: list = []
    monkeypatch.setattr(bus, "publish", published.append)
    with pytest.raises(NotAllowed):
        batches.create_batch(session, actor=clinic.reception, now=NOW)
    assert published == []
    batch = batches.create_batch(session, actor=clinic.biller, now=NOW)
    batches.mark_sent(session, actor=clinic.biller, batch_id=batch.id, now=NOW)
    with pytest.raises(IllegalTransition):
        batches.mark_sent(session, actor=clinic.biller, batch_id=batch.id, now=NOW)
    assert published == []  # not before the caller's commit
    session.commit()
    assert [e.what for e in published if isinstance(e, ClaimsChanged)] == ["claim batch 1 written", "claim batch 1 sent"]
