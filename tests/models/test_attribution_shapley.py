"""Shapley attribution: hand-computed games, the axioms (efficiency, symmetry, null player), the closed form of
Zhao et al. (2018), and the permutation estimate against the exact values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from models.shapley import ShapleyAttribution


def paths_frame(
    rows: list[tuple[list[str], int, float]], non_converting: list[list[str]] | None = None
) -> pd.DataFrame:
    """``count`` converting journeys of each (channels, count, value each), plus non-converting journeys."""
    channels: list[list[str]] = []
    converted: list[bool] = []
    values: list[float] = []
    for path, count, value in rows:
        channels += [path] * count
        converted += [True] * count
        values += [value] * count
    for path in non_converting or []:
        channels.append(path)
        converted.append(False)
        values.append(0.0)
    return pd.DataFrame(
        {
            "channels": channels,
            "campaigns": [[f"cmp-{c}" for c in p] for p in channels],
            "converted": converted,
            "conversion_value": values,
        }
    )


def brute_force(paths: pd.DataFrame, column: str = "converted") -> dict[str, float]:
    """Shapley values by averaging marginal contributions over every order of the players."""
    sets = [frozenset(p) for p in paths["channels"]]
    worth = paths[column].astype(float).to_numpy()
    players = sorted({c for s, w in zip(sets, worth, strict=True) if w > 0 for c in s})

    def v(coalition: frozenset[str]) -> float:
        return float(sum(w for s, w in zip(sets, worth, strict=True) if s <= coalition))

    totals = dict.fromkeys(players, 0.0)
    for order in itertools.permutations(players):
        before: frozenset[str] = frozenset()
        for player in order:
            totals[player] += v(before | {player}) - v(before)
            before = before | {player}
    return {p: t / math.factorial(len(players)) for p, t in totals.items()}


def test_two_channels_by_hand() -> None:
    # v(A) = 2, v(B) = 1, v(AB) = 2 + 1 + 3 = 6: φ_A = (2 + (6 - 1)) / 2 = 3.5, φ_B = (1 + (6 - 2)) / 2 = 2.5
    paths = paths_frame([(["A"], 2, 10.0), (["B"], 1, 10.0), (["A", "B"], 3, 10.0)])

    model = ShapleyAttribution().fit(paths)

    assert model.method_ == "exact"
    assert model.credits_["conversions"].to_dict() == pytest.approx({"A": 3.5, "B": 2.5})
    assert model.credits_["value"].to_dict() == pytest.approx({"A": 35.0, "B": 25.0})


def test_three_channels_match_brute_force_and_the_closed_form() -> None:
    # order and repeats within a path do not matter: (B, A, B) is the coalition {A, B}
    paths = paths_frame(
        [(["A"], 1, 5.0), (["B", "A", "B"], 2, 20.0), (["A", "B", "C"], 3, 7.0), (["C"], 1, 1.0)],
        non_converting=[["B"], ["C", "A"]],
    )

    credits = ShapleyAttribution().fit(paths).credits_

    # closed form Σ_{T ∋ j} r(T)/|T|: A = 1 + 2/2 + 3/3 = 3, B = 2/2 + 3/3 = 2, C = 3/3 + 1 = 2
    assert credits["conversions"].to_dict() == pytest.approx({"A": 3.0, "B": 2.0, "C": 2.0})
    assert credits["conversions"].to_dict() == pytest.approx(brute_force(paths))
    paths["worth"] = paths["conversion_value"]
    assert credits["value"].to_dict() == pytest.approx(brute_force(paths, "worth"))
    assert credits["value"].sum() == pytest.approx(paths["conversion_value"].sum())


def test_symmetric_channels_get_equal_credit_and_null_players_none() -> None:
    paths = paths_frame(
        [(["A", "B"], 2, 4.0), (["A"], 1, 1.0), (["B"], 1, 1.0), (["C", "A"], 1, 2.0)], [["D"], ["D", "A"]]
    )

    credits = ShapleyAttribution().fit(paths).credits_["conversions"]

    swapped = paths.assign(channels=[[{"A": "B", "B": "A"}.get(c, c) for c in p] for p in paths["channels"]])
    assert ShapleyAttribution().fit(swapped).credits_["conversions"].to_dict() == pytest.approx(
        {**credits.to_dict(), "A": credits["B"], "B": credits["A"]}
    )
    assert credits["D"] == 0.0  # only in non-converting journeys
    assert credits.sum() == pytest.approx(5.0)  # efficiency


def random_paths(seed: int, channels: int, journeys: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = [f"c{i:02d}" for i in range(channels)]
    rows: list[tuple[list[str], int, float]] = []
    for _ in range(journeys):
        size = int(rng.integers(1, 5))
        rows.append(
            (
                list(rng.choice(names, size=size, p=np.linspace(2, 1, channels) / np.linspace(2, 1, channels).sum())),
                1,
                float(rng.integers(1, 90)),
            )
        )
    converting = paths_frame(rows[: journeys // 2])
    non_converting = paths_frame([], non_converting=[p for p, _, _ in rows[journeys // 2 :]])
    return pd.concat([converting, non_converting], ignore_index=True)


def closed_form(paths: pd.DataFrame, column: str) -> pd.Series:
    credit: dict[str, float] = {}
    for path, worth, converted in zip(paths["channels"], paths[column], paths["converted"], strict=True):
        if converted:
            for c in set(path):
                credit[c] = credit.get(c, 0.0) + float(worth) / len(set(path))
    return pd.Series(credit)


def test_exact_enumeration_equals_the_closed_form_on_many_channels() -> None:
    paths = random_paths(4, channels=12)

    model = ShapleyAttribution(max_exact_players=12).fit(paths)

    assert model.method_ == "exact" and len(model.players_) == 12
    expected = closed_form(paths.assign(one=1.0), "one")
    assert model.credits_["conversions"].to_dict() == pytest.approx(expected.to_dict())
    assert model.credits_["value"].to_dict() == pytest.approx(closed_form(paths, "conversion_value").to_dict())


def test_permutation_estimate_is_close_to_exact_with_honest_standard_errors() -> None:
    paths = random_paths(9, channels=9)
    exact = ShapleyAttribution(max_exact_players=9).fit(paths)

    sampled = ShapleyAttribution(max_exact_players=4, n_permutations=3000, random_state=3).fit(paths)

    assert sampled.method_ == "sampled"
    # every sampled order hands out the exact totals (efficiency holds draw by draw)
    assert sampled.credits_.sum().to_numpy() == pytest.approx(exact.credits_.sum().to_numpy())
    difference = (sampled.credits_ - exact.credits_).abs()
    errors = sampled.std_errors_
    assert (errors > 0).all().all()
    assert (difference <= 4 * errors + 1e-9).all().all(), (difference / errors).max()
    assert (difference["conversions"] <= 0.03 * exact.credits_["conversions"].sum()).all()
    again = ShapleyAttribution(max_exact_players=4, n_permutations=3000, random_state=3).fit(paths)
    pd.testing.assert_frame_equal(again.credits_, sampled.credits_)  # seeded: reproducible


def test_many_campaigns_are_sampled_and_still_close_to_the_closed_form() -> None:
    paths = random_paths(2, channels=24, journeys=800)

    model = ShapleyAttribution(by="campaigns", n_permutations=1500).fit(paths)

    assert model.method_ == "sampled" and len(model.players_) == 24
    expected = closed_form(paths.assign(channels=paths["campaigns"], one=1.0), "one")
    difference = (model.credits_["conversions"] - expected).abs()
    assert (difference <= 4 * model.std_errors_["conversions"] + 1e-9).all()


def test_bad_input() -> None:
    paths = paths_frame([(["A"], 1, 1.0)])
    with pytest.raises(NotReady):
        ShapleyAttribution().fit(paths_frame([], non_converting=[["A"]]))
    with pytest.raises(InvalidInput, match="max_exact_players"):
        ShapleyAttribution(max_exact_players=30).fit(paths)
    with pytest.raises(InvalidInput, match="n_permutations"):
        ShapleyAttribution(n_permutations=1).fit(paths)
