"""The billing command line: claims export writes valid 837P files; era import posts an 835."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlmodel import select

from clinic_app.models import Claim, ClaimLine, Remittance
from clinic_app.services.interop.x12 import x12_validate
from clinic_app.services.revenue import ledger
from clinic_app.settings import PROJECT_ROOT
from tests.services.revenue_helpers import claimed_visit, cover, set_up_billing
from tests.services.x12_835 import Line, Paid, remittance


def run(engine, *args):
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    return subprocess.run([sys.executable, "-m", "clinic_app", *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)


def test_claims_export_then_era_import(engine, session, clinic, tmp_path):
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    one = claimed_visit(session, clinic, "09:00")
    claimed_visit(session, clinic, "10:00", extra_dx=("M54.50",))

    out = run(engine, "claims", "export", "--out", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) == 1 and f"Wrote {files[0]}" in out.stdout
    assert x12_validate.validate(files[0].read_text()) == []
    session.rollback()  # a fresh transaction sees what the command wrote
    session.expire_all()  # the helpers committed: no transaction was open to roll back
    assert {c.status for c in session.exec(select(Claim))} == {"submitted"}
    assert "No claims are ready to send." in run(engine, "claims", "export", "--out", str(tmp_path / "out")).stdout

    line = session.exec(select(ClaimLine).where(ClaimLine.claim_id == one.id)).one()
    era_file = tmp_path / "acme.835"
    era_file.write_text(remittance([Paid(one.number, "1", 7700, 6000, 0, [Line("97110", 7700, 6000, 2, ("GP",), str(line.id), [("CO", "45", 1700)])])]))
    broken = tmp_path / "broken.835"
    broken.write_text(era_file.read_text()[:300])
    bad = run(engine, "era", "import", str(broken))
    assert bad.returncode == 1 and "broken.835: The file is truncated" in bad.stderr and "Nothing was posted." in bad.stderr
    assert session.exec(select(Remittance)).all() == []

    ok = run(engine, "era", "import", str(era_file))
    assert ok.returncode == 0, ok.stderr
    assert "Posted acme.835: 1 claims, $60.00 paid, 0 denied" in ok.stdout
    session.rollback()  # a fresh transaction sees what the command wrote
    session.expire_all()  # the helpers committed: no transaction was open to roll back
    assert session.get(Claim, one.id).status == "paid"
    assert ledger.balances(session, patient_id=clinic.patients[0].id)["insurance"] == 7700  # the second claim, unpaid
    again = run(engine, "era", "import", str(era_file))
    assert again.returncode == 1 and "already posted" in again.stderr


def test_claims_ack_imports_a_999_and_a_277ca(engine, session, clinic, tmp_path):
    from tests.services.x12_277 import Ack, acknowledgement

    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer)
    one = claimed_visit(session, clinic, "09:00")
    assert run(engine, "claims", "export", "--out", str(tmp_path / "out")).returncode == 0
    ack = tmp_path / "ack.277"
    ack.write_text(acknowledgement([Ack(one.number, 9000, "A7", "21", "MEMBER ID INVALID")]))
    stranger = tmp_path / "stranger.277"
    stranger.write_text(acknowledgement([Ack("NOPE-1", 9000, "A2")]))
    bad = run(engine, "claims", "ack", str(stranger))
    assert bad.returncode == 1 and "Claim NOPE-1 in the acknowledgement matches no claim we sent" in bad.stderr
    from tests.services.x12_999 import functional_ack

    session.rollback()

    session.expire_all()  # the helpers committed: no transaction was open to roll back
    control = session.get(Claim, one.id).batch_control
    file_ack = tmp_path / "file.999"
    file_ack.write_text(functional_ack(control, accepted=True))
    received = run(engine, "claims", "ack", str(file_ack))
    assert received.returncode == 0, received.stderr
    assert f"Imported file.999 (999): 837P file {control} accepted; 0 claims rejected." in received.stdout
    ok = run(engine, "claims", "ack", str(ack))
    assert ok.returncode == 0, ok.stderr
    assert "Imported ack.277: 0 accepted, 1 rejected" in ok.stdout
    session.rollback()  # a fresh transaction sees what the command wrote
    session.expire_all()  # the helpers committed: no transaction was open to roll back
    assert session.get(Claim, one.id).status == "rejected"
