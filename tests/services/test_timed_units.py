"""Units of timed codes from minutes: the CMS 8-minute rule and the per-code rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.services.charting.timed_units import allocate, units_for

# DOMAIN.md's table: 8-22 min = 1 unit, 23-37 = 2, 38-52 = 3, 53-67 = 4, 68-82 = 5.
TABLE = [(0, 0), (7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4), (67, 4), (68, 5), (82, 5), (83, 6)]


@pytest.mark.parametrize(("minutes", "units"), TABLE)
def test_the_8_minute_table(minutes, units):
    assert units_for(minutes) == units
    assert allocate({"97110": minutes}) == {"97110": units}


def test_cms_totals_the_visit_and_gives_left_over_units_to_the_most_minutes():
    # CMS's example: 33 min exercise + 7 min neuromuscular re-education = 40 min = 3 units.
    assert allocate({"97110": 33, "97112": 7}) == {"97110": 2, "97112": 1}
    # 7 + 7 = 14 minutes: one unit, to one of them (more minutes first, then by code).
    assert allocate({"97110": 7, "97140": 7}) == {"97110": 1, "97140": 0}
    assert allocate({"97110": 6, "97140": 8}) == {"97110": 0, "97140": 1}
    # 24 + 23 + 8 = 55 minutes = 4 units: 1 + 1 whole; leftovers 9, 8, 8 -> two more, to
    # the 9, then (a tie on 8) to the code with more minutes in all.
    assert allocate({"97110": 24, "97140": 23, "97530": 8}) == {"97110": 2, "97140": 2, "97530": 0}


def test_the_per_code_rule_counts_each_code_alone():
    assert allocate({"97110": 33, "97112": 7}, "per_code") == {"97110": 2, "97112": 0}
    assert allocate({"97110": 7, "97140": 7}, "per_code") == {"97110": 0, "97140": 0}
    assert allocate({"97110": 8, "97140": 8}, "per_code") == {"97110": 1, "97140": 1}


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="unknown timed-unit rule"):
        allocate({"97110": 30}, "generous")


_visits = st.dictionaries(st.sampled_from(["97110", "97112", "97140", "97530", "97535"]), st.integers(1, 120), min_size=1)


@given(_visits)
def test_cms_bills_exactly_the_units_the_total_minutes_support(minutes):
    units = allocate(minutes)
    total = sum(minutes.values())
    assert sum(units.values()) == total // 15 + (1 if total % 15 >= 8 else 0)
    # Every code keeps at least its whole 15-minute units and gains at most one more.
    assert all(m // 15 <= units[c] <= m // 15 + 1 for c, m in minutes.items())


@given(_visits)
def test_per_code_never_bills_a_code_under_8_minutes(minutes):
    units = allocate(minutes, "per_code")
    assert all((units[c] == 0) == (m < 8) for c, m in minutes.items())
