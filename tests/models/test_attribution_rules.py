"""Rule-based attribution: exact credits on a hand-checkable path set for every rule, and their edge cases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from models.attribution_rules import RULES, RuleAttribution, flatten, touch_weights

T0 = pd.Timestamp("2024-05-20 12:00", tz="UTC")


def paths_frame(rows: list[tuple[list[str], list[float], float | None]]) -> pd.DataFrame:
    """Journeys from (channels, ages in days before the last touch, conversion value or None)."""
    records: list[dict[str, Any]] = []
    for channels, ages, value in rows:
        times = [T0 - pd.Timedelta(days=a) for a in ages]
        records.append(
            {
                "channels": channels,
                "campaigns": [f"cmp-{c}" for c in channels],
                "touch_times": times,
                "converted": value is not None,
                "conversion_value": value or 0.0,
                "conversion_at": times[-1] if value is not None else pd.NaT,
            }
        )
    return pd.DataFrame(records)


# J0 converts (100) after search, email, direct; J1 (50) after social; J2 never converts; J3 (30) after email, search.
PATHS = paths_frame(
    [
        (["search", "email", "direct"], [14, 7, 0], 100.0),
        (["social"], [0], 50.0),
        (["search", "social"], [3, 0], None),
        (["email", "search"], [7, 0], 30.0),
    ]
)

EXPECTED = {  # channel: (conversions, value) credited, by hand
    "last": {"direct": (1, 100), "social": (1, 50), "search": (1, 30), "email": (0, 0)},
    "first": {"search": (1, 100), "social": (1, 50), "email": (1, 30), "direct": (0, 0)},
    "linear": {
        "search": (1 / 3 + 1 / 2, 100 / 3 + 15),
        "email": (1 / 3 + 1 / 2, 100 / 3 + 15),
        "direct": (1 / 3, 100 / 3),
        "social": (1, 50),
    },
    "position": {"search": (0.4 + 0.5, 40 + 15), "email": (0.2 + 0.5, 20 + 15), "direct": (0.4, 40), "social": (1, 50)},
    # half-life 7 days: ages 14, 7, 0 weigh 1/4, 1/2, 1 (→ 1/7, 2/7, 4/7); ages 7, 0 weigh 1/2, 1 (→ 1/3, 2/3)
    "time-decay": {
        "search": (1 / 7 + 2 / 3, 100 / 7 + 20),
        "email": (2 / 7 + 1 / 3, 200 / 7 + 10),
        "direct": (4 / 7, 400 / 7),
        "social": (1, 50),
    },
}


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_credits_the_hand_computed_numbers(rule: str) -> None:
    credits = RuleAttribution(rule=rule).fit(PATHS).credits_  # type: ignore[arg-type]

    assert set(credits.index) == {"search", "email", "direct", "social"}
    for channel, (conversions, value) in EXPECTED[rule].items():
        assert credits.loc[channel, "conversions"] == pytest.approx(conversions), (rule, channel)
        assert credits.loc[channel, "value"] == pytest.approx(value), (rule, channel)
    assert credits["conversions"].sum() == pytest.approx(3)
    assert credits["value"].sum() == pytest.approx(180)


def test_rules_work_on_campaigns_too() -> None:
    credits = RuleAttribution(rule="first", by="campaigns").fit(PATHS).credits_

    assert credits["conversions"].to_dict() == {
        "cmp-direct": 0.0,
        "cmp-email": 1.0,
        "cmp-search": 1.0,
        "cmp-social": 1.0,
    }


def test_position_weights_are_configurable_and_short_journeys_are_sensible() -> None:
    paths = paths_frame([(["a", "b", "c", "d"], [3, 2, 1, 0], 10.0), (["e", "f"], [1, 0], 10.0), (["g"], [0], 10.0)])

    credits = RuleAttribution(rule="position", position_weights=(0.3, 0.5, 0.2)).fit(paths).credits_

    got = credits["conversions"].to_dict()
    # four touchpoints: 0.3 first, 0.2 last, 0.5 over the two middle ones; two: 0.3 : 0.2 → 0.6 / 0.4; one: all
    assert got == pytest.approx({"a": 0.3, "b": 0.25, "c": 0.25, "d": 0.2, "e": 0.6, "f": 0.4, "g": 1.0})
    even = RuleAttribution(rule="position").fit(paths).credits_["conversions"]
    assert even["e"] == pytest.approx(0.5) and even["f"] == pytest.approx(0.5)
    middle_only = RuleAttribution(rule="position", position_weights=(0.0, 1.0, 0.0)).fit(paths).credits_
    assert middle_only.loc["e", "conversions"] == pytest.approx(0.5)  # no end weight: split a pair evenly
    assert middle_only.loc["b", "conversions"] == pytest.approx(0.5) and middle_only.loc["a", "conversions"] == 0


def test_repeated_touchpoints_are_credited_each_time() -> None:
    paths = paths_frame([(["search", "search", "email"], [2, 1, 0], 30.0)])

    credits = RuleAttribution(rule="linear").fit(paths).credits_

    assert credits["conversions"].to_dict() == pytest.approx({"email": 1 / 3, "search": 2 / 3})
    assert credits["value"].to_dict() == pytest.approx({"email": 10.0, "search": 20.0})


def test_time_decay_halves_per_half_life() -> None:
    paths = paths_frame([(["old", "new"], [2, 0], 1.0)])

    for half_life in (1.0, 2.0, 7.0):
        shares = RuleAttribution(rule="time-decay", half_life_days=half_life).fit(paths).credits_["conversions"]
        assert shares["old"] / shares["new"] == pytest.approx(0.5 ** (2 / half_life))


def test_weights_sum_to_one_per_journey_for_every_rule() -> None:
    touches = flatten(PATHS, "channels")
    for rule in RULES:
        weights = touch_weights(PATHS, touches, rule)
        assert np.bincount(touches.journey, weights=weights) == pytest.approx(np.ones(len(PATHS))), rule


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"rule": "u-shaped"}, "unknown rule"),
        ({"rule": "position", "position_weights": (0.5, 0.5, 0.5)}, "position weights"),
        ({"rule": "position", "position_weights": (-0.2, 0.6, 0.6)}, "position weights"),
        ({"rule": "time-decay", "half_life_days": 0.0}, "half_life_days"),
        ({"rule": "linear", "by": "creatives"}, "by must be one of"),
    ],
)
def test_bad_parameters_are_invalid_input(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        RuleAttribution(**params).fit(PATHS)


def test_no_conversion_is_not_ready_and_missing_columns_are_named() -> None:
    with pytest.raises(NotReady):
        RuleAttribution().fit(paths_frame([(["search"], [0], None)]))
    with pytest.raises(InvalidInput, match="conversion_value"):
        RuleAttribution().fit(PATHS.drop(columns="conversion_value"))
    with pytest.raises(InvalidInput, match="without touchpoints"):
        RuleAttribution().fit(pd.DataFrame({"channels": [[]], "converted": [True], "conversion_value": [1.0]}))
