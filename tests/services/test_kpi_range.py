"""Range KPIs against a small hand-computed clinic: two days, two providers, two rooms.

The fixture (Tuesday DAY and Wednesday DAY+1 at Test Clinic, New York time):

| visit | when        | provider | patient | room   | what happened                                        |
| v0    | Mon 10:00   | Ann      | Gus     | -      | completed (before the range: Gus is not new)         |
| v1    | Tue 09:00   | Ann      | Cara    | Room 1 | arrived 08:55, session 09:05, signed 09:50; claim A   |
| v2    | Tue 10:00   | Ann      | Eli     | Room 2 | arrived 09:58, session 10:00, signed 11:30; self-pay |
| v3    | Tue 11:00   | Ann      | Gus     | -      | arrived 11:00, session 11:04, not signed             |
| v4    | Tue 10:00   | Bo       | Cara    | -      | no-show                                              |
| v5    | Tue 13:00   | Ann      | Eli     | -      | cancelled two days ahead (in advance)                |
| v6    | Tue 14:00   | Ann      | Gus     | -      | cancelled that morning (late)                        |
| v7    | Tue 11:00   | Bo       | Eli     | Room 1 | booked                                               |
| v8    | Wed 09:00   | Ann      | Cara    | -      | arrived and in session 09:00, signed 09:20; claim B  |

Cara is covered by Acme (primary). Hours: Ann Mon and Tue 09-17, Wed 09-13 with 12-13 off;
Bo Tue 08-12. Every visit is a 30-minute treatment.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlmodel import select

from clinic_app.models import ClaimLine, Location, Provider
from clinic_app.services.charting import charting
from clinic_app.services.frontdesk import cases, scheduling
from clinic_app.services.kpi import kpi
from clinic_app.services.kpi.kpi import KpiFilters
from clinic_app.services.platform.errors import InvalidInput, NotAllowed
from clinic_app.services.revenue import billing, claims, era, ledger, revenue_reports
from tests.conftest import DAY, at
from tests.services.revenue_helpers import cover, set_up_billing
from tests.services.x12_835 import Line, Paid, remittance

WED = DAY + dt.timedelta(days=1)
MON = DAY - dt.timedelta(days=1)


def _visit(session, clinic, day, hhmm, *, provider=0, patient=0, room=None, arrive=None, start=None, sign=None, codes=()):
    clinician = clinic.clinician if provider == 0 else clinic.clinician2
    appt = scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[patient].id, provider_id=clinic.providers[provider].id,
        appointment_type_id=clinic.treatment.id, starts_at=at(hhmm, day),
        room_id=clinic.rooms[room].id if room is not None else None, now=at("07:00", day - dt.timedelta(days=3)),
    )
    if arrive:
        scheduling.transition(session, actor=clinic.reception, appointment_id=appt.id, to_status="arrived", now=at(arrive, day))
    if start:
        scheduling.transition(session, actor=clinician, appointment_id=appt.id, to_status="in_session", now=at(start, day))
    if sign:
        note = charting.open_note(session, actor=clinician, appointment_id=appt.id)
        charting.save_draft(session, actor=clinician, note_id=note.id, field="subjective", text="Knee pain 4/10")
        charting.add_diagnosis(session, actor=clinician, note_id=note.id, code="M25.561")
        charting.add_procedure(session, actor=clinician, note_id=note.id, code="97110", units=2)
        for code, units in codes:
            charting.add_procedure(session, actor=clinician, note_id=note.id, code=code, units=units)
        charting.sign_note(session, actor=clinician, note_id=note.id, now=at(sign, day))
    return appt


@pytest.fixture
def month(session, clinic):
    ann, bo = clinic.providers
    scheduling.set_week_hours(session, actor=clinic.admin, provider_id=ann.id,
                              week={0: [("09:00", "17:00")], 1: [("09:00", "17:00")], 2: [("09:00", "13:00")]})
    scheduling.set_week_hours(session, actor=clinic.admin, provider_id=bo.id, week={1: [("08:00", "12:00")]})
    scheduling.add_time_off(session, actor=clinic.admin, provider_id=ann.id, starts_at=at("12:00", WED), ends_at=at("13:00", WED))
    payer = set_up_billing(session, clinic)
    cover(session, clinic, payer, patient=0)

    v = {}
    v[0] = _visit(session, clinic, MON, "10:00", patient=2, arrive="10:00", start="10:00", sign="10:45")
    v[1] = _visit(session, clinic, DAY, "09:00", patient=0, room=0, arrive="08:55", start="09:05", sign="09:50")
    v[2] = _visit(session, clinic, DAY, "10:00", patient=1, room=1, arrive="09:58", start="10:00", sign="11:30", codes=[("97161", 1)])
    v[3] = _visit(session, clinic, DAY, "11:00", patient=2, arrive="11:00", start="11:04")
    v[4] = _visit(session, clinic, DAY, "10:00", provider=1, patient=0)
    scheduling.transition(session, actor=clinic.reception, appointment_id=v[4].id, to_status="no_show", now=at("10:20"))
    v[5] = _visit(session, clinic, DAY, "13:00", patient=1)
    scheduling.transition(session, actor=clinic.reception, appointment_id=v[5].id, to_status="cancelled",
                          reason="Away", now=at("09:00", DAY - dt.timedelta(days=2)))
    v[6] = _visit(session, clinic, DAY, "14:00", patient=2)
    scheduling.transition(session, actor=clinic.reception, appointment_id=v[6].id, to_status="cancelled", reason="Ill", now=at("08:00"))
    v[7] = _visit(session, clinic, DAY, "11:00", provider=1, patient=1, room=0)
    v[8] = _visit(session, clinic, WED, "09:00", patient=0, arrive="09:00", start="09:00", sign="09:20")

    case_a = cases.open_case(session, actor=clinic.reception, patient_id=clinic.patients[0].id, title="Left knee")
    case_b = cases.open_case(session, actor=clinic.reception, patient_id=clinic.patients[1].id, title="Low back")
    for case_, visit in ((case_a, v[1]), (case_a, v[8]), (case_b, v[2])):
        cases.attach_visit(session, actor=clinic.reception, case_id=case_.id, appointment_id=visit.id)

    # Money: claim A (v1, $77) accepted then paid $50 with $10 contractual and $17 to the patient;
    # claim B (v8, $77) denied; v2 billed to Eli ($230), who pays $50 cash.
    claim_a = claims.create_claim(session, actor=clinic.biller, appointment_id=v[1].id, now=at("12:00"))
    claims.set_status(session, actor=clinic.biller, claim_id=claim_a.id, to_status="submitted", now=at("13:00"))
    claims.set_status(session, actor=clinic.biller, claim_id=claim_a.id, to_status="accepted", now=at("10:00", WED))
    claim_b = claims.create_claim(session, actor=clinic.biller, appointment_id=v[8].id, now=at("11:00", WED))
    claims.set_status(session, actor=clinic.biller, claim_id=claim_b.id, to_status="submitted", now=at("12:00", WED))
    claims.set_status(session, actor=clinic.biller, claim_id=claim_b.id, to_status="denied", now=at("14:00", WED))
    billing.mark_billed(session, actor=clinic.biller, appointment_id=v[2].id)
    ledger.take_payment(session, actor=clinic.biller, patient_id=clinic.patients[1].id, amount="50.00", method="cash",
                        appointment_id=v[2].id, now=at("12:00"))
    line_id = session.exec(select(ClaimLine.id).where(ClaimLine.claim_id == claim_a.id)).first()
    era.post(session, actor=clinic.biller, now=at("11:00", WED), text=remittance([
        Paid(claim_a.number, "1", 7700, 5000, 1700, [
            Line("97110", 7700, 5000, 2, ("GP",), str(line_id), [("CO", "45", 1000), ("PR", "1", 1700)]),
        ]),
    ]))
    session.commit()
    return {"visits": v, "payer": payer, "claims": (claim_a, claim_b)}


def _filters(clinic, **kw):
    return KpiFilters(start=DAY, end=WED, location_id=kw.pop("location_id", clinic.location.id), **kw)


def test_every_tile_matches_the_hand_computed_clinic(session, clinic, month):
    f = kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic))
    assert (f["scheduled"], f["visits"], f["arrivals"]) == (8, 3, 4)
    assert (f["no_shows"], f["late_cancels"], f["advance_cancels"]) == (1, 1, 1)
    assert f["no_show_rate"] == pytest.approx(1 / 7)  # no-shows / (scheduled - cancelled in advance)
    assert f["late_cancel_rate"] == pytest.approx(1 / 7)
    by_provider = {r["provider"]: (r["booked_minutes"], r["available_minutes"]) for r in f["utilisation_by_provider"]}
    assert by_provider == {"Ann Able, PT": (120.0, 660.0), "Bo Baker, PT": (30.0, 240.0)}
    assert f["utilisation"] == pytest.approx(150 / 900)
    by_room = {r["room"]: (r["booked_minutes"], r["available_minutes"]) for r in f["utilisation_by_room"]}
    assert by_room == {"Room 1 (Test Clinic)": (60.0, 780.0), "Room 2 (Test Clinic)": (30.0, 780.0)}  # Tue 08-17 + Wed 09-13
    assert f["new_patients"] == 2  # Cara and Eli; Gus came on Monday
    assert (f["case_visits"], f["cases"], f["visits_per_case"]) == (3, 2, 1.5)
    assert (f["wait_count"], f["wait_minutes_avg"]) == (4, pytest.approx(4.0))  # (10 + 2 + 4 + 0) / 4
    assert (f["lag_count"], f["lag_minutes_avg"]) == (3, pytest.approx(80 / 3))  # (20 + 60 + 0) / 3
    assert f["charges_cents"] == 7700 + 23000 + 7700  # at each payer's fee (self-pay $40 a unit)
    assert f["payments_cents"] == 5000 + 5000
    assert f["billed_charges_cents"] == 7700 + 23000 + 7700
    assert f["contractual_adjustments_cents"] == 1000
    assert f["collection_rate"] == pytest.approx(10000 / (38400 - 1000))
    assert f["ar_open_cents"] == 38400 - 10000 - 1000
    assert f["ar_days"] == pytest.approx(27400 / (38400 / 90))
    assert (f["claims_clean"], f["claims_answered"], f["claims_pending"], f["clean_claim_rate"]) == (1, 2, 0, 0.5)
    assert (f["claims_adjudicated"], f["claims_denied"], f["denial_rate"]) == (2, 1, 0.5)
    assert f["grain"] == "day"
    assert f["visits_by_period"] == [
        {"period": DAY.isoformat(), "visits": 2, "arrivals": 3, "no_shows": 1},
        {"period": WED.isoformat(), "visits": 1, "arrivals": 1, "no_shows": 0},
    ]


def test_claim_rates_agree_with_the_revenue_reports(session, clinic, month):
    f = kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic))
    start, end = at("00:00", DAY), at("00:00", WED + dt.timedelta(days=1))
    clean = revenue_reports.clean_claim_rate(session, actor=clinic.manager, start=start, end=end)
    denied = revenue_reports.denial_rate(session, actor=clinic.manager, start=start, end=end)
    assert (clean["clean"], clean["answered"], clean["rate"]) == (f["claims_clean"], f["claims_answered"], f["clean_claim_rate"])
    assert (denied["denied"], denied["adjudicated"], denied["rate"]) == (f["claims_denied"], f["claims_adjudicated"], f["denial_rate"])


def test_filters_narrow_the_figures(session, clinic, month):
    bo = kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic, provider_id=clinic.providers[1].id))
    assert (bo["scheduled"], bo["visits"], bo["no_shows"], bo["no_show_rate"], bo["charges_cents"]) == (2, 0, 1, 0.5, 0)
    assert [r["provider"] for r in bo["utilisation_by_provider"]] == ["Bo Baker, PT"]
    assert bo["utilisation"] == pytest.approx(30 / 240)
    assert bo["payments_cents"] == 0  # no payment was for Bo's visits

    acme = kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic, payer_id=month["payer"].id))
    # Cara's visits (Acme is her primary coverage): v1, v4 (no-show), v8.
    assert (acme["scheduled"], acme["visits"], acme["no_shows"], acme["charges_cents"]) == (3, 2, 1, 15400)
    assert (acme["payments_cents"], acme["billed_charges_cents"], acme["claims_denied"]) == (5000, 15400, 1)

    tuesday = kpi.range_kpis(session, actor=clinic.manager, filters=KpiFilters(start=DAY, end=DAY, location_id=clinic.location.id))
    assert (tuesday["scheduled"], tuesday["visits"], tuesday["charges_cents"], tuesday["payments_cents"]) == (7, 2, 30700, 5000)
    assert [p["period"] for p in tuesday["visits_by_period"]] == [DAY.isoformat()]


def test_a_second_location_counts_in_its_own_time_zone(session, clinic, month):
    west = Location(name="West", timezone="America/Los_Angeles")
    session.add(west)
    session.flush()
    cy = Provider(name="Cy Cole, OT", location_id=west.id)
    session.add(cy)
    session.commit()
    # 19:00 on Wednesday in Los Angeles is 02:00 Thursday in UTC (and 22:00 in New York).
    starts = dt.datetime(2030, 3, 13, 19, 0, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    scheduling.book_appointment(
        session, actor=clinic.reception, patient_id=clinic.patients[2].id, provider_id=cy.id,
        appointment_type_id=clinic.treatment.id, starts_at=starts, now=at("07:00"),
    )
    everywhere = kpi.range_kpis(session, actor=clinic.manager, filters=KpiFilters(start=DAY, end=WED))
    only_west = kpi.range_kpis(session, actor=clinic.manager, filters=KpiFilters(start=DAY, end=WED, location_id=west.id))
    only_east = kpi.range_kpis(session, actor=clinic.manager, filters=_filters(clinic))
    assert (everywhere["scheduled"], only_west["scheduled"], only_east["scheduled"]) == (9, 1, 8)
    assert only_west["visits_by_period"][-1] == {"period": WED.isoformat(), "visits": 0, "arrivals": 0, "no_shows": 0}
    assert only_west["utilisation_by_provider"] == [
        {"provider_id": cy.id, "provider": "Cy Cole, OT", "booked_minutes": 30.0, "available_minutes": None, "utilisation": None}
    ]
    # Money not tied to a location counts only when no location is chosen.
    assert only_west["payments_cents"] == 0 and everywhere["payments_cents"] == 10000


@pytest.mark.parametrize("tile", list(kpi.TILES))
def test_drill_down_rows_add_up_to_the_tile(session, clinic, month, tile):
    filters = _filters(clinic)
    f = kpi.range_kpis(session, actor=clinic.manager, filters=filters)
    rows = kpi.drill_down(session, actor=clinic.manager, filters=filters, tile=tile)
    total = {
        "visits": lambda: len(rows) == f["visits"] == 3,
        "arrivals": lambda: len(rows) == f["arrivals"] == 4,
        "no_show_rate": lambda: sum(r["no_show"] for r in rows) / len(rows) == f["no_show_rate"],
        "late_cancel_rate": lambda: sum(r["late_cancel"] for r in rows) / len(rows) == f["late_cancel_rate"],
        "utilisation_by_provider": lambda: (sum(r["booked_minutes"] for r in rows) / sum(r["available_minutes"] for r in rows)
                                            == pytest.approx(f["utilisation"])),
        "utilisation_by_room": lambda: (sum(r["booked_minutes"] for r in rows) / sum(r["available_minutes"] for r in rows)
                                        == pytest.approx(f["room_utilisation"])),
        "new_patients": lambda: len(rows) == f["new_patients"] == 2,
        "visits_per_case": lambda: (sum(r["visits"] for r in rows), len(rows)) == (f["case_visits"], f["cases"]) == (3, 2),
        "wait_time": lambda: sum(r["wait_minutes"] for r in rows) / len(rows) == pytest.approx(f["wait_minutes_avg"]),
        "documentation_lag": lambda: sum(r["lag_minutes"] for r in rows) / len(rows) == pytest.approx(f["lag_minutes_avg"], abs=0.1),
        "charges": lambda: sum(r["amount_cents"] for r in rows) == f["charges_cents"] == 38400,
        "payments": lambda: sum(r["amount_cents"] for r in rows) == f["payments_cents"] == 10000,
        "collection_rate": lambda: rows[0]["amount_cents"] / rows[3]["amount_cents"] == pytest.approx(f["collection_rate"]),
        "ar_days": lambda: sum(r["amount_cents"] for r in rows) == f["ar_open_cents"] == 27400,
        "clean_claim_rate": lambda: sum(r["clean"] for r in rows) / len(rows) == f["clean_claim_rate"],
        "denial_rate": lambda: sum(r["denied"] for r in rows) / len(rows) == f["denial_rate"],
    }[tile]
    assert rows and total()


def test_a_drill_down_limit_keeps_the_first_rows(session, clinic, month):
    every = kpi.drill_down(session, actor=clinic.manager, filters=_filters(clinic), tile="arrivals")
    first = kpi.drill_down(session, actor=clinic.manager, filters=_filters(clinic), tile="arrivals", limit=2)
    assert len(every) == 4 and first == every[:2]


def test_drill_down_rows_name_visits_not_patients(session, clinic, month):
    rows = kpi.drill_down(session, actor=clinic.manager, filters=_filters(clinic), tile="no_show_rate")
    assert [(r["date"], r["time"], r["provider"], r["status"], r["no_show"]) for r in rows][:3] == [
        (DAY.isoformat(), "09:00", "Ann Able, PT", "Billed", 0),
        (DAY.isoformat(), "10:00", "Ann Able, PT", "Billed", 0),
        (DAY.isoformat(), "10:00", "Bo Baker, PT", "No-show", 1),
    ]
    names = {p.first_name for p in clinic.patients} | {p.last_name for p in clinic.patients}
    assert not any(str(value) in names for row in rows for value in row.values())


def test_csv_has_a_header_dollars_and_no_formulas(session, clinic, month):
    rows = kpi.drill_down(session, actor=clinic.manager, filters=_filters(clinic), tile="charges")
    table = list(csv.reader(io.StringIO(kpi.to_csv(rows))))
    assert table[0] == ["visit", "date", "location", "provider", "code", "units", "amount_dollars"]
    assert [r[-1] for r in table[1:]] == ["77.00", "80.00", "150.00", "77.00"]
    assert kpi.to_csv([{"item": "=HYPERLINK(1)", "amount_cents": -5}]).splitlines()[1] == "'=HYPERLINK(1),-0.05"


def test_table_csvs_are_rounded_as_the_page_shows_them_with_units_in_the_header():
    rows = [{"room": "Room 1 (Downtown)", "booked_minutes": 270.00000001, "available_minutes": 540.0, "utilisation": 0.5000000000677326},
            {"room": "Room 2 (Downtown)", "booked_minutes": 0.0, "available_minutes": None, "utilisation": None}]
    table = list(csv.reader(io.StringIO(kpi.table_csv("utilisation_by_room", rows))))
    assert table == [["room", "booked_minutes", "available_minutes", "utilisation_percent"],
                     ["Room 1 (Downtown)", "270", "540", "50.0"], ["Room 2 (Downtown)", "0", "", ""]]
    assert kpi.to_csv([{"wait_minutes": 12.3456789, "units": 2}]).splitlines()[1] == "12.3,2"


@pytest.mark.parametrize("role", ["reception", "clinician", "biller"])
def test_roles_without_kpi_view_are_refused(session, clinic, month, role):
    actor = {"reception": clinic.reception, "clinician": clinic.clinician, "biller": clinic.biller}[role]
    with pytest.raises(NotAllowed):
        kpi.range_kpis(session, actor=actor, filters=_filters(clinic))
    with pytest.raises(NotAllowed):
        kpi.drill_down(session, actor=actor, filters=_filters(clinic), tile="charges")
    assert kpi.range_kpis(session, actor=clinic.admin, filters=_filters(clinic))["visits"] == 3


def test_bad_ranges_and_tiles_get_a_clear_message(session, clinic):
    with pytest.raises(InvalidInput, match="end date is before the start"):
        kpi.range_kpis(session, actor=clinic.manager, filters=KpiFilters(start=WED, end=DAY))
    with pytest.raises(InvalidInput, match="no KPI called"):
        kpi.drill_down(session, actor=clinic.manager, filters=KpiFilters(start=DAY, end=WED), tile="profit")


def test_an_empty_range_has_zeros_and_no_rates(session, clinic):
    f = kpi.range_kpis(session, actor=clinic.manager, filters=KpiFilters(start=DAY, end=WED))
    assert (f["scheduled"], f["charges_cents"], f["payments_cents"], f["ar_open_cents"]) == (0, 0, 0, 0)
    assert all(f[k] is None for k in ("no_show_rate", "late_cancel_rate", "utilisation", "visits_per_case", "wait_minutes_avg",
                                      "lag_minutes_avg", "collection_rate", "ar_days", "clean_claim_rate", "denial_rate"))


def test_presets_mean_the_dates_a_manager_expects():
    today = dt.date(2030, 3, 12)  # a Tuesday
    assert kpi.preset_range("today", today) == (today, today)
    assert kpi.preset_range("this_week", today) == (dt.date(2030, 3, 11), dt.date(2030, 3, 17))
    assert kpi.preset_range("this_month", today) == (dt.date(2030, 3, 1), dt.date(2030, 3, 31))
    assert kpi.preset_range("last_month", today) == (dt.date(2030, 2, 1), dt.date(2030, 2, 28))
    assert kpi.preset_range("last_month", dt.date(2030, 1, 5)) == (dt.date(2029, 12, 1), dt.date(2029, 12, 31))
    assert kpi.preset_range("this_year", today) == (dt.date(2030, 1, 1), dt.date(2030, 12, 31))
    with pytest.raises(InvalidInput):
        kpi.preset_range("forever", today)


def test_filters_key_round_trips_and_says_which_visits_it_covers():
    f = KpiFilters(start=DAY, end=WED, location_id=3, provider_id=None, payer_id=7)
    assert KpiFilters.from_key(f.key()) == f
    assert f.covers(location_id=3, provider_id=9, day=WED.isoformat())
    assert not f.covers(location_id=4, provider_id=9, day=WED.isoformat())
    assert not f.covers(location_id=3, provider_id=9, day=(WED + dt.timedelta(days=1)).isoformat())
