"""`python -m clinic_app eligibility request / import` on the demo clinic."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import create_engine

from clinic_app.services.revenue.eligibility import validate_270
from tests.services.test_eligibility import ACTIVE_WITH_MONEY, answer_271
from tests.test_cli import run

NOW = "2030-03-12T13:00:00+00:00"


def _coverage(db):
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        row = conn.execute(text(
            "SELECT id, member_id, eligibility_trace, eligibility_status, eligibility_copay_cents FROM coverage "
            "WHERE relationship = 'self' ORDER BY id LIMIT 1"
        )).one()
    engine.dispose()
    return row


def test_request_a_270_and_import_the_271(tmp_path):
    db = tmp_path / "c.db"
    assert run(["demo", "--now", NOW], db).returncode == 0
    coverage_id, member, *_ = _coverage(db)
    out = tmp_path / "ask.270"
    asked = run(["eligibility", "request", "--coverage", str(coverage_id), "--out", str(out)], db)
    assert asked.returncode == 0, asked.stderr
    assert validate_270(out.read_text()) == []
    trace = _coverage(db)[2]
    assert trace and f"TRN*1*{trace}*" in out.read_text()

    bad = tmp_path / "bad.271"
    bad.write_text(answer_271(trace, member, *ACTIVE_WITH_MONEY)[:300])
    refused = run(["eligibility", "import", str(bad)], db)
    assert refused.returncode == 1 and "truncated" in refused.stderr and "Nothing was changed" in refused.stderr
    assert _coverage(db)[3] == ""

    good = tmp_path / "answer.271"
    good.write_text(answer_271(trace, member, *ACTIVE_WITH_MONEY))
    done = run(["eligibility", "import", str(good)], db)
    assert done.returncode == 0, done.stderr
    assert f"Coverage {coverage_id}: active, copay $25.00" in done.stdout
    assert _coverage(db)[3:] == ("active", 2500)

    missing = run(["eligibility", "request", "--coverage", "999999", "--out", str(out)], db)
    assert missing.returncode == 1 and "No active coverage has the id 999999" in missing.stderr
