"""Claim batches: "Create batch" writes the 837P files of the claims ready to send (one per
payer, each checked by pyx12) and keeps them as one zip; the biller downloads it (as often as
needed) and marks it sent, or it is written into the clearinghouse's outbox folder. The claims
become submitted when their batch is sent, not before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy import text as sql
from sqlmodel import Session, select

from clinic_app.db import for_write, utcnow
from clinic_app.models import Claim, ClaimBatch, ClaimBatchClaim
from clinic_app.services.platform import audit
from clinic_app.services.platform.actor import Actor
from clinic_app.services.platform.errors import IllegalTransition, InvalidInput, NotFound
from clinic_app.services.platform.money import amount
from clinic_app.services.platform.permissions import require
from clinic_app.services.revenue import claims

STATUS_WORDS = {"ready": "Ready to send", "sent": "Sent"}


def _in_unsent_batch():
    return select(ClaimBatchClaim.claim_id).join(ClaimBatch, ClaimBatch.id == ClaimBatchClaim.batch_id).where(
        ClaimBatch.status == "ready")


def claims_for_batch(session: Session) -> list[Claim]:
    """Claims ready to send that no unsent batch holds yet, oldest first."""
    return list(session.exec(
        select(Claim).where(Claim.status.in_(claims.READY_TO_SEND), Claim.id.not_in(_in_unsent_batch())).order_by(Claim.id)
    ))


def _zip(files: list[tuple[str, str]], now: dt.datetime) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files:
            archive.writestr(zipfile.ZipInfo(name, date_time=now.timetuple()[:6]), text.encode("ascii"))
    return buffer.getvalue()


def file_name(batch: ClaimBatch) -> str:
    return f"claims-batch-{batch.id:04d}-{batch.created_at:%Y%m%d-%H%M}.zip"


def create_batch(session: Session, *, actor: Actor, now: dt.datetime | None = None) -> ClaimBatch:
    """Write the claims ready to send into a new batch: one 837P per payer, all valid, or no batch."""
    for_write(session)
    require(actor.role, "billing.claims")
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # SQLite's write lock (for_write) already lets one batch be written at a time.
        session.execute(sql("SELECT pg_advisory_xact_lock(hashtext('claim_batch'))"))
    ready = claims_for_batch(session)
    if not ready:
        raise InvalidInput("No claims are waiting for a batch: create claims from the queue first.")
    # The files' control numbers (ISA13, GS06) come from the batch's number, so that a 999
    # answering one file finds its claims; the write lock makes the next number ours.
    number = (session.exec(select(func.max(ClaimBatch.id))).one() or 0) + 1
    written = claims.payer_files(session, ready, control_of=lambda n: (number % 10_000_000) * 100 + n, now=now,
                                 refused="no batch was written")
    files = [(name, text) for name, text, _payer in written]
    payer_names = [payer.name for _name, _text, payer in written]
    data = _zip(files, now)
    batch = ClaimBatch(
        id=number, claim_count=len(ready), total_cents=sum(c.total_cents for c in ready),
        payer_names=", ".join(payer_names)[:400], file_names=",".join(name for name, _ in files)[:1000],
        zip_data=data, zip_sha256=hashlib.sha256(data).hexdigest(), created_by=actor.user_id, created_at=now,
    )
    session.add(batch)
    session.flush()
    session.add_all(ClaimBatchClaim(batch_id=batch.id, claim_id=claim.id) for claim in ready)
    audit.record(session, actor=actor, action="create", entity="claim_batch", entity_id=batch.id,
                 detail=f"{len(ready)} claims in {len(files)} 837P files")
    session.flush()
    claims.announce(session, f"claim batch {batch.id} written")
    return batch


def _batch(session: Session, batch_id: int) -> ClaimBatch:
    batch = session.get(ClaimBatch, batch_id, with_for_update=True)  # one sender at a time (PostgreSQL)
    if batch is None:
        raise NotFound("That claim batch does not exist.")
    return batch


def download(session: Session, *, actor: Actor, batch_id: int) -> tuple[str, bytes]:
    """The batch's zip as it was written (file name, bytes); every download is audited."""
    for_write(session)
    require(actor.role, "billing.claims")
    batch = _batch(session, batch_id)
    audit.record(session, actor=actor, action="export", entity="claim_batch", entity_id=batch.id,
                 detail=f"downloaded {file_name(batch)}")
    session.flush()
    return file_name(batch), batch.zip_data


def mark_sent(session: Session, *, actor: Actor, batch_id: int, how: str = "marked sent by the biller",
              now: dt.datetime | None = None) -> dict:
    """The batch went to the clearinghouse: its claims become submitted, the batch is final."""
    for_write(session)
    require(actor.role, "billing.claims")
    now = now or utcnow()
    batch = _batch(session, batch_id)
    if batch.status != "ready":
        raise IllegalTransition(f"Batch {batch.id} was already sent ({batch.sent_how}, {batch.sent_at:%Y-%m-%d %H:%M} UTC); "
                                "download it again if the clearinghouse lost it.")
    members = list(session.exec(
        select(Claim).join(ClaimBatchClaim, ClaimBatchClaim.claim_id == Claim.id)
        .where(ClaimBatchClaim.batch_id == batch.id).order_by(Claim.id)
    ))
    submitted, unchanged = 0, []
    for claim in members:
        if claim.status not in claims.READY_TO_SEND:  # e.g. sent meanwhile by the command line's export
            unchanged.append(f"{claim.number} is already {claims.STATUS_LABELS[claim.status].lower()}")
            continue
        claims.move_claim(session, claim, "submitted", actor=actor, note=f"sent in claim batch {batch.id}", now=now)
        submitted += 1
    batch.status, batch.sent_at, batch.sent_by, batch.sent_how = "sent", now, actor.user_id, how[:80]
    session.add(batch)
    audit.record(session, actor=actor, action="send", entity="claim_batch", entity_id=batch.id,
                 detail=f"{how}: {submitted} claims submitted"[:200])
    session.flush()
    claims.announce(session, f"claim batch {batch.id} sent")
    return {"batch": batch, "submitted": submitted, "unchanged": unchanged}


def send_to_outbox(session: Session, *, actor: Actor, batch_id: int, outbox: Path, now: dt.datetime | None = None) -> dict:
    """Write the batch's 837P files into the clearinghouse's outbox folder, then mark it sent.

    Each file is written under a temporary name and renamed, so the pick-up job never takes
    half a file; if any write fails the batch stays unsent (files already written are removed).
    """
    for_write(session)
    require(actor.role, "billing.claims")
    batch = _batch(session, batch_id)
    if batch.status != "ready":
        raise IllegalTransition(f"Batch {batch.id} was already sent ({batch.sent_how}).")
    written: list[Path] = []
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(batch.zip_data)) as archive:
            for name in archive.namelist():
                final = outbox / Path(name).name
                partial = outbox / f".{final.name}.part"
                partial.write_bytes(archive.read(name))
                os.replace(partial, final)
                written.append(final)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise InvalidInput(f"The outbox folder could not be written ({exc.strerror or exc}); the batch was not sent.") from exc
    return mark_sent(session, actor=actor, batch_id=batch_id, how=f"written to the outbox ({len(written)} files)", now=now)


def recent(session: Session, *, actor: Actor, tz: str = "UTC", limit: int = 20) -> list[dict]:
    """The newest batches, newest first, as the billing page lists them (times in ``tz``, named)."""
    require(actor.role, "billing.view")
    rows = session.exec(select(ClaimBatch).order_by(ClaimBatch.id.desc()).limit(limit)).all()
    zone = ZoneInfo(tz)

    def when(at: dt.datetime) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    return [
        {
            "batch_id": b.id, "file_name": file_name(b), "created": when(b.created_at),
            "claims": b.claim_count, "total": f"{amount(b.total_cents)}", "payers": b.payer_names,
            "status": "ready" if b.status == "ready" else "sent",
            "status_words": STATUS_WORDS[b.status] if b.status == "ready"
            else f"Sent {when(b.sent_at)} ({b.sent_how})",
        }
        for b in rows
    ]
