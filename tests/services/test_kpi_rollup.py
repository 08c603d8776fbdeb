"""The KPI rollups (kpi_visit_day, and from migration 0014 kpi_money_day, kpi_claim_day and
kpi_case_day) are never stale: database triggers mark every changed visit's day and ledger
day, and the next dashboard load recomputes it. Same hand-computed clinic as test_kpi_range."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import text
from sqlmodel import select

from clinic_app.models import (
    CareCase,
    Charge,
    Coverage,
    KpiCaseDay,
    KpiCasePayerDay,
    KpiClaimDay,
    KpiDirty,
    KpiMoneyDay,
    KpiVisitDay,
    KpiVisitPayerDay,
)
from clinic_app.services.charting import charting
from clinic_app.services.frontdesk import scheduling
from clinic_app.services.kpi import kpi
from clinic_app.services.revenue import ledger, payers, revenue_reports
from tests.conftest import DAY, at
from tests.services import test_kpi_range
from tests.services.revenue_helpers import cover
from tests.services.test_kpi_range import WED, _filters

month = test_kpi_range.month  # the hand-computed clinic (a fixture)

FIGURES = ("scheduled", "visits", "arrivals", "no_shows", "late_cancels", "advance_cancels", "wait_count", "wait_minutes_avg",
           "lag_count", "lag_minutes_avg", "charges_cents", "utilisation", "room_utilisation",
           "new_patients", "ar_open_cents", "payments_cents", "billed_charges_cents", "contractual_adjustments_cents",
           "collection_rate", "claims_clean", "claims_answered", "claims_pending", "claims_adjudicated", "claims_denied",
           "case_visits", "cases")


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
    out["payments_cents"] = kpi.payments(session, scope)
    out.update(kpi.collection(session, scope, out["payments_cents"]))
    out.update(kpi.clean_claims(session, scope))
    out.update(kpi.denials(session, scope))
    out.update(kpi.visits_per_case(session, scope))
    return out


def _same(figures: dict, direct: dict) -> None:
    for key in FIGURES:
        assert figures[key] == pytest.approx(direct[key]), key
    for key in ("utilisation_by_provider", "utilisation_by_room", "visits_by_period"):
        assert figures[key] == direct[key], key


def _wide(clinic, **kw):
    """Forty days before Tuesday to 300 after Wednesday: whole UTC days, so money from the rollup."""
    return dataclasses.replace(_filters(clinic, **kw), start=DAY - dt.timedelta(days=40), end=WED + dt.timedelta(days=300))


def test_the_rollup_gives_the_direct_figures_for_every_filter(session, clinic, month):
    bo, ann = clinic.providers[1], clinic.providers[0]
    for filters in (_filters(clinic), _filters(clinic, location_id=None), _filters(clinic, provider_id=bo.id),
                    _filters(clinic, location_id=None, provider_id=ann.id), _filters(clinic, payer_id=month["payer"].id),
                    _wide(clinic, location_id=None), _wide(clinic, provider_id=ann.id),
                    _wide(clinic, location_id=None, payer_id=month["payer"].id)):
        figures = kpi.range_kpis(session, actor=clinic.manager, filters=filters)
        _same(figures, _direct(session, filters))
    for table in (KpiVisitDay, KpiMoneyDay, KpiClaimDay, KpiCaseDay, KpiVisitPayerDay, KpiCasePayerDay):
        assert session.exec(select(table)).all(), f"the dashboard read {table.__tablename__}"
    wide = kpi.range_kpis(session, actor=clinic.manager, filters=_wide(clinic, location_id=None))
    assert (wide["payments_cents"], wide["contractual_adjustments_cents"], wide["billed_charges_cents"]) == (10000, 1000, 38400)
    assert (wide["case_visits"], wide["cases"]) == (3, 2)  # case A's Tuesday and Wednesday visits: one episode
    assert (wide["claims_adjudicated"], wide["claims_denied"], wide["claims_clean"], wide["claims_answered"]) == (2, 1, 1, 2)


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


def _raw(session, sql: str, **params) -> None:
    """A write straight in SQL, in a transaction of its own (no service marks anything)."""
    session.commit()
    session.execute(text(sql), params)
    session.commit()


def test_money_posted_after_the_rollup_was_filled_shows_at_once(session, clinic, month):
    """Payments, adjustments and billed charges of whole UTC days come from kpi_money_day; the
    ledger triggers mark the days an entry changes (its time, and a charge's date of service)."""
    v = month["visits"]
    filters = _wide(clinic, location_id=None)
    before = kpi.range_kpis(session, actor=clinic.manager, filters=filters)
    assert before["payments_cents"] == 10000

    # Eli pays $10 at the desk on Wednesday at noon (a whole UTC day inside the range).
    ledger.take_payment(session, actor=clinic.biller, patient_id=clinic.patients[1].id, amount="10.00", method="cash",
                        appointment_id=v[2].id, now=at("12:00", WED))
    after = kpi.range_kpis(session, actor=clinic.manager, filters=filters)
    assert after["payments_cents"] == 11000
    assert after["collection_rate"] == pytest.approx(11000 / (38400 - 1000))

    # Straight in SQL: a $5 contractual adjustment on Thursday, and a $20 charge billed a month
    # later for Wednesday's date of service (the trigger marks that date, not only the entry's day).
    _raw(session, "INSERT INTO ledger_entry (patient_id, payer_id, appointment_id, kind, amount_cents, service_date, method,"
         " reference, reason, created_at) VALUES (:p, :payer, :a, 'adjustment', -500, NULL, '', '', 'CO-45', :t)",
         p=clinic.patients[0].id, payer=month["payer"].id, a=v[8].id, t=_stored(session, at("15:00", WED + dt.timedelta(days=1))))
    _raw(session, "INSERT INTO ledger_entry (patient_id, payer_id, appointment_id, kind, amount_cents, service_date, method,"
         " reference, reason, created_at) VALUES (:p, NULL, :a, 'charge', 2000, :d, '', '', '', :t)",
         p=clinic.patients[1].id, a=v[2].id, d=WED, t=_stored(session, at("09:00", WED + dt.timedelta(days=30))))
    after = kpi.range_kpis(session, actor=clinic.manager, filters=filters)
    assert (after["contractual_adjustments_cents"], after["billed_charges_cents"]) == (1500, 40400)
    _same(after, _direct(session, filters))

    # A visit moved to another provider takes its money with it (the appointment trigger).
    bo = clinic.providers[1]
    by_bo = dataclasses.replace(filters, provider_id=bo.id)
    assert kpi.range_kpis(session, actor=clinic.manager, filters=by_bo)["payments_cents"] == 0
    _raw(session, "UPDATE appointment SET provider_id = :bo WHERE id = :id", bo=bo.id, id=v[2].id)
    moved = kpi.range_kpis(session, actor=clinic.manager, filters=by_bo)
    assert (moved["payments_cents"], moved["billed_charges_cents"]) == (6000, 25000)  # Eli's $50 + $10; $230 + $20
    _same(moved, _direct(session, by_bo))


def _stored(session, moment: dt.datetime):
    """A UTC instant as the database keeps it (SQLite: naive UTC text)."""
    if session.get_bind().dialect.name == "sqlite":
        return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", timespec="microseconds")
    return moment


def test_claim_answers_and_episode_links_made_later_show_at_once(session, clinic, month):
    """kpi_claim_day counts a claim once (its first adjudication in range) and follows every
    event of it; kpi_case_day counts an episode once and follows its links."""
    v = month["visits"]
    claim_a, claim_b = month["claims"]
    filters = _filters(clinic)
    before = kpi.range_kpis(session, actor=clinic.manager, filters=filters)
    assert (before["claims_adjudicated"], before["claims_denied"], before["case_visits"], before["cases"]) == (2, 1, 3, 2)

    # Claim B, denied on Wednesday at 14:00, is appealed and paid at 16:00 the same day: still
    # two claims adjudicated, one of them denied (as the revenue report says).
    for status, hhmm in (("appealed", "15:00"), ("paid", "16:00")):
        _raw(session, "INSERT INTO claim_event (claim_id, from_status, to_status, at, note) VALUES (:c, NULL, :s, :t, '')",
             c=claim_b.id, s=status, t=_stored(session, at(hhmm, WED)))
    for expected in ((2, 1), (2, 2)):
        after = kpi.range_kpis(session, actor=clinic.manager, filters=filters)
        report = revenue_reports.denial_rate(session, actor=clinic.manager, start=at("00:00", DAY),
                                             end=at("00:00", WED + dt.timedelta(days=1)))
        assert (after["claims_adjudicated"], after["claims_denied"]) == (report["adjudicated"], report["denied"]) == expected
        # then claim A, paid at 11:00, is denied at 17:00 after all (a recoupment)
        _raw(session, "INSERT INTO claim_event (claim_id, from_status, to_status, at, note) VALUES (:c, 'paid', 'denied', :t, '')",
             c=claim_a.id, t=_stored(session, at("17:00", WED)))

    _same(after, _direct(session, filters))

    # Gus's Tuesday visit (v3, attended) is linked to a new episode straight in SQL; then Cara's
    # Wednesday visit leaves case A for it, and Cara's Tuesday visit stops counting (no-show).
    case_c = CareCase(patient_id=clinic.patients[2].id, title="Shoulder")
    session.add(case_c)
    session.commit()
    _raw(session, "INSERT INTO case_visit (case_id, appointment_id) VALUES (:c, :a)", c=case_c.id, a=v[3].id)
    after = kpi.range_kpis(session, actor=clinic.manager, filters=filters)
    assert (after["case_visits"], after["cases"]) == (4, 3)
    _raw(session, "UPDATE case_visit SET case_id = :c WHERE appointment_id = :a", c=case_c.id, a=v[8].id)
    assert [kpi.range_kpis(session, actor=clinic.manager, filters=filters)[k] for k in ("case_visits", "cases")] == [4, 3]
    _raw(session, "UPDATE appointment SET status = 'no_show' WHERE id = :id", id=v[1].id)
    after = kpi.range_kpis(session, actor=clinic.manager, filters=filters)
    assert (after["case_visits"], after["cases"]) == (3, 2)  # case A is gone; v2 (case B), v3 and v8 (case C)
    _same(after, _direct(session, filters))


def test_a_visit_counts_for_the_payer_covering_its_day_and_a_coverage_change_shows_at_once(session, clinic, month):
    """The payer filter: a visit's payer is the patient's primary coverage on the visit's local
    day (kpi_visit_payer_day, kpi_case_payer_day); a coverage change marks the patient's visits."""
    acme, v = month["payer"], month["visits"]
    by_acme = _filters(clinic, payer_id=acme.id)
    before = kpi.range_kpis(session, actor=clinic.manager, filters=by_acme)
    # Cara (patient 0), covered by Acme: Tuesday's visit and no-show, Wednesday's visit (episode A)
    assert (before["scheduled"], before["visits"], before["no_shows"], before["case_visits"], before["cases"]) == (3, 2, 1, 2, 1)
    _same(before, _direct(session, by_acme))

    # Cara changes insurer: Acme ends on Tuesday, Beta covers her from Wednesday.
    beta = payers.create_payer(session, actor=clinic.biller, name="Beta Mutual", payer_id="BETA1")
    coverage = session.exec(select(Coverage).where(Coverage.payer_id == acme.id)).one()
    payers.end_coverage(session, actor=clinic.biller, coverage_id=coverage.id, effective_to=DAY)
    cover(session, clinic, beta, patient=0, start=WED)
    by_beta = _filters(clinic, payer_id=beta.id)
    acme_now = kpi.range_kpis(session, actor=clinic.manager, filters=by_acme)
    beta_now = kpi.range_kpis(session, actor=clinic.manager, filters=by_beta)
    assert (acme_now["scheduled"], acme_now["visits"], acme_now["no_shows"], acme_now["case_visits"], acme_now["cases"]) == (2, 1, 1, 1, 1)
    assert (beta_now["scheduled"], beta_now["visits"], beta_now["no_shows"], beta_now["case_visits"], beta_now["cases"]) == (1, 1, 0, 1, 1)
    assert acme_now["visits_by_period"][1] == {"period": WED.isoformat(), "visits": 0, "arrivals": 0, "no_shows": 0}
    _same(acme_now, _direct(session, by_acme))
    _same(beta_now, _direct(session, by_beta))
    # Without the filter nothing moved: the payer split is of the same visits.
    assert kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic))["scheduled"] == 8

    # Straight in SQL: Beta's coverage is removed (the coverage trigger marks Cara's visits).
    _raw(session, "DELETE FROM coverage WHERE payer_id = :beta", beta=beta.id)
    gone = kpi.range_kpis(session, actor=clinic.manager, filters=by_beta)
    assert (gone["scheduled"], gone["visits"], gone["case_visits"], gone["cases"]) == (0, 0, 0, 0)
    _same(gone, _direct(session, by_beta))
    assert v[8].patient_id == clinic.patients[0].id
