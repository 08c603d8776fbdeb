"""Revenue-cycle throughput: claim the demo clinic's ready visits, export and validate the
837P files, post an 835 that pays them all.

What is measured
    On a fresh SQLite database holding the demo clinic (``--patients`` patients, default
    300), every ready-to-bill
    visit is turned into a claim (``claims.create_claims``: scrub, claim, ledger
    charge, visit billed, one transaction per visit), the claims are exported
    (``claims.export``: 837P per payer, each file checked by pyx12 before anything is
    marked submitted), then one 835 paying every claim (CO-45 contractual adjustment
    and a PR-3 co-pay per line) is posted (``era.post``: parse, balance checks, line
    postings, ledger, and a secondary claim for each patient with secondary coverage),
    then those secondary claims are exported with the primary's adjudication. Prints wall-clock seconds and per-claim milliseconds per step.

How
    ``python bench/billing_cycle.py [--patients N] [--page]`` (the demo's visit count does not
    grow with patients: it is two weeks of six providers' days). ``--page`` sends the claims
    and reads the 835 the billing page's way: a claim batch (``batches.create_batch``, one
    zip of pyx12-checked 837P files, then ``mark_sent``) and ``billing_files.read_file`` in
    one transaction, as an upload does. The 835 is written
    with the tests' 835 writer (tests/services/x12_835.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session, select

from clinic_app.db import make_engine, one_transaction
from clinic_app.models import Appointment, Claim, ClaimLine, Location, User
from clinic_app.services.platform import auth
from clinic_app.services.revenue import batches, billing_files, claims, era
from tests.services.x12_835 import Line, Paid, remittance


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--page", action="store_true", help="send and read files as the billing page does")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
        subprocess.run([sys.executable, "-m", "clinic_app", "demo", "--patients", str(args.patients)], env=env, check=True,
                       capture_output=True, cwd=Path(__file__).resolve().parents[1])
        engine = make_engine(f"sqlite:///{db}")
        with Session(engine, expire_on_commit=False) as s:
            biller = auth.actor_for(s.exec(select(User).where(User.role == "biller")).first())
            ready = len(s.exec(select(Appointment.id).where(Appointment.status == "ready_to_bill")).all())
            t0 = time.perf_counter()
            made, held = [], {}
            for location in s.exec(select(Location)).all():
                m, h = claims.create_claims(s, actor=biller, location_id=location.id)
                made += m
                held.update(h)
            t1 = time.perf_counter()
            if args.page:
                batch = batches.create_batch(s, actor=biller)
                tb = time.perf_counter()
                zip_kib = len(batch.zip_data) / 1024
                batches.mark_sent(s, actor=biller, batch_id=batch.id)
                files = batch.file_names.split(",")
            else:
                files = claims.export(s, actor=biller, out_dir=Path(tmp) / "out")
            s.commit()  # the caller owns the transaction: the claims and the export are saved here
            t2 = time.perf_counter()
            paid = []
            for claim in made:
                lines = s.exec(select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_no)).all()
                remit_lines = []
                for ln in lines:
                    copay = min(1000, ln.amount_cents)
                    contractual = ln.amount_cents // 5
                    remit_lines.append(Line(ln.code, ln.amount_cents, ln.amount_cents - contractual - copay, ln.units,
                                            tuple(m for m in ln.modifiers.split(",") if m), str(ln.id),
                                            [("CO", "45", contractual), ("PR", "3", copay)]))
                paid.append(Paid(claim.number, "1", claim.total_cents, sum(r.paid for r in remit_lines),
                                 sum(1000 if r.charge >= 1000 else r.charge for r in remit_lines), remit_lines))
            text = remittance(paid)
            t3 = time.perf_counter()
            if args.page:
                with one_transaction(engine) as upload:
                    read = billing_files.read_file(upload, actor=biller, data=text.encode(), name="bench.835")
                s.rollback()  # end this session's read, to see what the upload's transaction wrote
                summary = {"claims": read.claims, "paid_cents": read.paid_cents, "secondary_claims": list(
                    s.exec(select(Claim.number).where(Claim.primary_claim_id.is_not(None))))}
            else:
                summary = era.post(s, actor=biller, text=text, now=dt.datetime.now(dt.UTC))
                s.commit()
            t4 = time.perf_counter()
            # The co-pays of patients with secondary coverage became secondary claims: send them (COB loops).
            secondary_files = claims.export(s, actor=biller, out_dir=Path(tmp) / "secondary")
            s.commit()
            t5 = time.perf_counter()
        engine.dispose()
    n = max(len(made), 1)
    print(f"ready-to-bill visits: {ready}; claimed: {len(made)}; held by the scrubber: {len(held)}")
    print(f"create claims: {t1 - t0:.2f} s ({(t1 - t0) / n * 1000:.1f} ms/claim)")
    if args.page:
        print(f"claim batch of {len(files)} 837P files incl. pyx12 validation, zipped: {tb - t1:.2f} s "
              f"({(tb - t1) / n * 1000:.1f} ms/claim); marked sent: {t2 - tb:.2f} s; zip {zip_kib:.0f} KiB")
    else:
        print(f"export {len(files)} 837P files incl. pyx12 validation: {t2 - t1:.2f} s ({(t2 - t1) / n * 1000:.1f} ms/claim)")
    print(f"835 of {len(text) / 1024:.0f} KiB posted: {summary['claims']} claims, ${summary['paid_cents'] / 100:,.2f} "
          f"in {t4 - t3:.2f} s ({(t4 - t3) / n * 1000:.1f} ms/claim), secondary claims created on the way: "
          f"{len(summary['secondary_claims'])}")
    k = max(len(summary["secondary_claims"]), 1)
    print(f"export {len(secondary_files)} secondary 837P files (2320/2330/2430) incl. pyx12: {t5 - t4:.2f} s "
          f"({(t5 - t4) / k * 1000:.1f} ms/claim)")


if __name__ == "__main__":
    main()
