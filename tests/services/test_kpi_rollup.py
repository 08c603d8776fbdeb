"""The KPI rollup (kpi_visit_day) is never stale: database triggers mark every changed visit's
day, and the next dashboard load recomputes it. Same hand-computed clinic as test_kpi_range."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import text
from sqlmodel import select

from clinic_app.models import Charge, KpiDirty, KpiVisitDay
from clinic_app.services import charting, kpi, ledger, scheduling
from tests.conftest import DAY, at
from tests.services import test_kpi_range
from tests.services.test_kpi_range import WED, _filters

month = test_kpi_range.month  # the hand-computed clinic (a fixture)

FIGURES = ("scheduled", "visits", "arrivals", "no_shows", "late_cancels", "advance_cancels", "wait_count", "wait_minutes_avg",
           "lag_count", "lag_minutes_avg", "charges_cents", "utilisation", "room_utilisation",
           "new_patients", "ar_open_cents")


def _direct(session, filters) -> dict:
    """The same tiles straight from the appointments (the rollup not used)."""
    scope = dataclasses.replace(kpi._scope(session, filters, refresh=False), use_rollup=False)
    out = {}
    out.update(kpi.visit_counts(session, scope))
    out.update(kpi.utilisation(session, scope))
    out.update(kpi.wait_time(session, scope))
    out.update(kpi.documentation_lag(session, scope))
    out["charges_cents"] = kpi.charges(session, scope)
    out["visits_by_period"] = kpi.visits_by_period(session, scope)
    out["new_patients"] = kpi.new_patients(session, scope)
    out["ar_open_cents"] = kpi.open_ar(session, scope)
    return out


def _same(figures: dict, direct: dict) -> None:
    for key in FIGURES:
        assert figures[key] == pytest.approx(direct[key]), key
    for key in ("utilisation_by_provider", "utilisation_by_room", "visits_by_period"):
        assert figures[key] == direct[key], key


def test_the_rollup_gives_the_direct_figures_for_every_filter(session, clinic, month):
    bo = clinic.providers[1]
    for filters in (_filters(clinic), _filters(clinic, location_id=None), _filters(clinic, provider_id=bo.id),
                    dataclasses.replace(_filters(clinic), start=DAY - dt.timedelta(days=40), end=WED + dt.timedelta(days=300))):
        figures = kpi.range_kpis(session, actor=clinic.manager, filters=filters)
        _same(figures, _direct(session, filters))
    assert session.exec(select(KpiVisitDay)).all(), "the dashboard read the rollup"


def test_a_late_signature_and_a_no_show_marked_afterwards_show_on_the_next_load(session, clinic, month):
    v = month["visits"]
    before = kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic, location_id=None))
    assert (before["no_shows"], before["visits"], before["lag_count"], before["charges_cents"]) == (1, 3, 3, 38400)
    assert not session.exec(select(KpiDirty)).all()  # the load recomputed and cleared every changed day

    # Wednesday afternoon: Bo's booked Tuesday visit is marked a no-show, and Ann signs Gus's
    # Tuesday note (v3) a day late, which captures its charges ($40 x 2 units, self-pay).
    scheduling.transition(session, actor=clinic.reception, appointment_id=v[7].id, to_status="no_show", now=at("15:00", WED))
    note = charting.open_note(session, actor=clinic.clinician, appointment_id=v[3].id)
    charting.save_draft(session, actor=clinic.clinician, note_id=note.id, field="subjective", text="Knee pain 3/10")
    charting.add_diagnosis(session, actor=clinic.clinician, note_id=note.id, code="M25.561")
    charting.add_procedure(session, actor=clinic.clinician, note_id=note.id, code="97110", units=2)
    charting.sign_note(session, actor=clinic.clinician, note_id=note.id, now=at("15:00", WED))

    # and Eli pays $10 more at the desk on Tuesday afternoon (entered late, the ledger trigger)
    ledger.take_payment(session, actor=clinic.biller, patient_id=clinic.patients[1].id, amount="10.00", method="cash",
                        appointment_id=v[2].id, now=at("16:00", DAY))

    after = kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic, location_id=None))
    assert after["ar_open_cents"] == before["ar_open_cents"] - 1000
    assert after["payments_cents"] == before["payments_cents"] + 1000
    assert (after["no_shows"], after["visits"], after["lag_count"]) == (2, 4, 4)
    assert after["charges_cents"] == 38400 + 8000
    assert after["lag_minutes_avg"] == pytest.approx((80 + (24 * 60 + 210)) / 4)  # Tue 11:30 to Wed 15:00
    bo = {r["provider"]: r["booked_minutes"] for r in after["utilisation_by_provider"]}["Bo Baker, PT"]
    assert bo == 0.0  # the no-show no longer holds the slot
    _same(after, _direct(session, _filters(clinic, location_id=None)))


def test_a_change_made_straight_in_the_database_marks_its_day(session, clinic, month):
    """The triggers, not the services, keep the rollup honest: raw SQL changes show too."""
    v = month["visits"]
    kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic))
    total = sum(c.amount_cents for c in session.exec(select(Charge).where(Charge.appointment_id == v[2].id)).all())

    session.commit()  # a new transaction for the raw writes (as for_write starts one)
    session.execute(text("UPDATE appointment SET status = 'no_show' WHERE id = :id"), {"id": v[7].id})
    session.commit()
    marked = set(session.exec(select(KpiDirty.location_id, KpiDirty.at)).all())
    # Bo's Tuesday 11:00 visit, and Eli's first attended visit (Tuesday 10:00: still his first)
    assert marked == {(clinic.location.id, at("11:00", DAY)), (clinic.location.id, at("10:00", DAY))}
    assert kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic))["no_shows"] == 2

    session.commit()
    session.execute(text(  # a charge line added to Eli's signed Tuesday visit (charges are insert-only)
        "INSERT INTO charge (appointment_id, note_id, line_no, code, units, unit_price_cents, amount_cents, diagnosis_codes,"
        " created_at) SELECT appointment_id, id, 9, '97530', 1, 100, 100, '', signed_at FROM note WHERE appointment_id = :id"
    ), {"id": v[2].id})
    session.commit()
    assert set(session.exec(select(KpiDirty.location_id, KpiDirty.at)).all()) == {(clinic.location.id, at("10:00", DAY))}
    figures = kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic))
    assert figures["charges_cents"] == 38400 + 100
    assert total + 100 == sum(c.amount_cents for c in session.exec(select(Charge).where(Charge.appointment_id == v[2].id)).all())
    session.commit()

    note = charting.open_note(session, actor=clinic.clinician, appointment_id=v[3].id)  # a new draft note
    assert set(session.exec(select(KpiDirty.location_id, KpiDirty.at)).all()) == {(clinic.location.id, at("11:00", DAY))}
    assert note.signed_at is None

    # Gus's Monday visit (before the range) turns out never to have happened: his Tuesday
    # visit becomes his first, so Tuesday's new patients change though Tuesday was not touched.
    session.commit()
    session.execute(text("UPDATE appointment SET status = 'no_show' WHERE id = :id"), {"id": v[0].id})
    session.commit()
    figures = kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic))
    assert figures["new_patients"] == 3  # Cara, Eli and now Gus
    assert figures["new_patients"] == kpi.new_patients(
        session, dataclasses.replace(kpi._scope(session, _filters(clinic), refresh=False), use_rollup=False))
