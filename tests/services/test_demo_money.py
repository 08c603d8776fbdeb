"""The demo clinic's money (issue 15): its past visits are claimed, the payers' remittances
posted through the 835 posting, so the dashboard's money tiles and the denial worklist show
plausible figures."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from clinic_app.models import Claim, LedgerEntry, User
from clinic_app.services.kpi import kpi
from clinic_app.services.platform import audit, auth, demo
from clinic_app.services.revenue import era

NOW = dt.datetime(2030, 3, 12, 15, 10, tzinfo=dt.UTC)


def test_the_demo_clinic_posts_remittances_so_the_money_tiles_mean_something(session, fast_hash):
    made = demo.load(session, patients=120, now=NOW)
    assert made["claims"] > 20 and made["remittances"] >= 3 and made["claims_denied"] >= 1
    assert made["insurance_paid_cents"] > 0 and made["patient_payments"] > 0

    def actor(role):
        return auth.actor_for(session.exec(select(User).where(User.role == role)).first())

    filters = kpi.KpiFilters(start=NOW.date() - dt.timedelta(days=14), end=NOW.date())
    f = kpi.range_kpis(session, actor=actor("manager"), filters=filters)
    assert f["payments_cents"] > 0
    assert 0.3 < f["collection_rate"] < 1.0
    assert 5 < f["ar_days"] < 90
    assert f["claims_denied"] >= 1 and 0 < f["denial_rate"] < 0.5
    assert 0.5 < f["clean_claim_rate"] <= 1.0
    assert era.denials(session, actor=actor("biller"))  # the worklist has work
    # Paid claims left patients a share, some of which they paid; nothing is paid twice.
    statuses = set(session.exec(select(Claim.status)).all())
    assert {"paid", "denied", "accepted"} <= statuses and "draft" not in statuses and "submitted" not in statuses
    kinds = set(session.exec(select(LedgerEntry.kind)).all())
    assert {"charge", "payment", "adjustment", "transfer"} <= kinds
    assert audit.verify(session).intact
