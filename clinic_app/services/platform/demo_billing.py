"""The demo clinic's revenue-cycle set-up: payers, fee schedules, billing profiles and
patients' coverage, so that its ready-to-bill visits can be claimed at once.

Uses a random stream of its own, so the rest of the demo clinic is unchanged by it.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlmodel import Session

from clinic_app.models import BillingProfile, Coverage, FeeSchedule, Location, Patient, Payer
from clinic_app.services.charting.codes import npi_check_digit

SEED = 2031
PAYERS = [
    # name, payer id, modifiers every line carries, price per code in cents
    ("Medicare Part B (demo)", "MCRB1", "GP", {"97161": 10125, "97110": 2950, "97140": 2710, "97530": 3480, "97112": 3390}),
    ("Blue Lake PPO (demo)", "BLPPO", "", {"97161": 13500, "97110": 4100, "97140": 3800, "97530": 4400, "97112": 4200}),
    ("Summit Health HMO (demo)", "SMHMO", "", {"97161": 11800, "97110": 3600, "97140": 3300}),
]
SELF_PAY = {"97161": 12000, "97140": 3500}  # prompt-pay rates; other codes at the standard fee
PROFILES = [
    ("Riverside Physio & Rehab LLC", "120 River Rd", "Albany", "NY", "122071234", "141234567"),
    ("Lakeside Chiro & Therapy PC", "45 Lake St", "Madison", "WI", "537031234", "391234567"),
]


def load(session: Session, *, locations: list[Location], people: list[Patient], today: dt.date) -> None:
    """Add payers, fee schedules, billing profiles and coverage to the demo clinic."""
    rnd = random.Random(SEED)
    payers = [Payer(name=n, payer_id=pid, default_modifiers=mods, claim_filing_indicator={"MCRB1": "MB", "BLPPO": "12", "SMHMO": "HM"}[pid])
              for n, pid, mods, _ in PAYERS]
    session.add_all(payers)
    session.flush()
    for payer, (_, _, _, prices) in zip(payers, PAYERS, strict=True):
        session.add_all(FeeSchedule(payer_id=payer.id, code=code, amount_cents=cents) for code, cents in prices.items())
    session.add_all(FeeSchedule(payer_id=None, code=code, amount_cents=cents) for code, cents in SELF_PAY.items())
    for location, (org, street, city, state, zip_code, ein) in zip(locations, PROFILES, strict=False):
        first_nine = f"1{rnd.randrange(10**8):08d}"
        session.add(BillingProfile(
            location_id=location.id, organisation=org, npi=first_nine + str(npi_check_digit(first_nine)), tax_id=ein,
            address=street, city=city, state=state, zip_code=zip_code,
        ))
    for patient in people:
        roll = rnd.random()
        if roll < 0.2:
            continue  # self-pay
        payer = payers[0] if roll < 0.45 else payers[1] if roll < 0.8 else payers[2]
        session.add(Coverage(
            patient_id=patient.id, payer_id=payer.id, member_id=f"{payer.payer_id[:2]}{rnd.randrange(10**9):09d}",
            group_number="" if payer is payers[0] else f"G{rnd.randrange(10**5):05d}",
            effective_from=today - dt.timedelta(days=rnd.randrange(60, 900)),
        ))
        if payer is payers[0] and rnd.random() < 0.3:
            session.add(Coverage(
                patient_id=patient.id, payer_id=payers[2].id, member_id=f"SM{rnd.randrange(10**9):09d}", priority=2,
                group_number=f"G{rnd.randrange(10**5):05d}", effective_from=today - dt.timedelta(days=rnd.randrange(60, 900)),
            ))
