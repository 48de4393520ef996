"""Markov removal effect: a chain worked out by hand, the one-solve shortcut against one solve per removal,
and against a seeded simulation of the chain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from models.markov import CONVERSION, NULL, MarkovAttribution


def paths_frame(rows: list[tuple[list[str], float | None]]) -> pd.DataFrame:
    """Journeys from (channels, conversion value or None when the journey did not convert)."""
    return pd.DataFrame(
        {
            "channels": [channels for channels, _ in rows],
            "campaigns": [[f"cmp-{c}" for c in channels] for channels, _ in rows],
            "converted": [value is not None for _, value in rows],
            "conversion_value": [value or 0.0 for _, value in rows],
        }
    )


# start→A 3/5, start→B 2/5; A→B, A→null, A→conversion 1/3 each; B→conversion 2/3, B→null 1/3.
HAND = paths_frame([(["A", "B"], 40.0), (["A"], None), (["B"], 20.0), (["B"], None), (["A"], 100.0)])


def test_chain_worked_out_by_hand() -> None:
    model = MarkovAttribution().fit(HAND)

    matrix = model.transition_matrix_
    assert matrix.loc["(start)", "A"] == pytest.approx(3 / 5) and matrix.loc["(start)", "B"] == pytest.approx(2 / 5)
    assert matrix.loc["A", ["B", CONVERSION, NULL]].tolist() == pytest.approx([1 / 3] * 3)
    assert matrix.loc["B", [CONVERSION, NULL]].tolist() == pytest.approx([2 / 3, 1 / 3])
    # x_B = 2/3, x_A = 1/3 + 1/3 · 2/3 = 5/9, x_start = 3/5 · 5/9 + 2/5 · 2/3 = 3/5 (3 conversions of 5 journeys)
    assert model.conversion_probability_ == pytest.approx(3 / 5)
    # without A: 2/5 · 2/3 = 4/15 → RE_A = 1 - (4/15)/(3/5) = 5/9; without B: 3/5 · 1/3 = 1/5 → RE_B = 2/3
    assert model.removal_effects_.to_dict() == pytest.approx({"A": 5 / 9, "B": 2 / 3})
    # 3 conversions split 5 : 6
    assert model.credits_["conversions"].to_dict() == pytest.approx({"A": 15 / 11, "B": 18 / 11})
    # value chain: rewards A 100/3, B 60/3 → E_B = 20, E_A = 40, E_start = 32 (× 5 journeys = 160);
    # without A: 2/5 · 20 = 8 → 3/4; without B: 3/5 · 100/3 = 20 → 3/8; split 2 : 1
    assert model.value_removal_effects_.to_dict() == pytest.approx({"A": 3 / 4, "B": 3 / 8})
    assert model.credits_["value"].to_dict() == pytest.approx({"A": 320 / 3, "B": 160 / 3})

    proportional = MarkovAttribution(value_method="proportional").fit(HAND)
    assert proportional.credits_["value"].to_dict() == pytest.approx({"A": 160 * 5 / 11, "B": 160 * 6 / 11})


def random_paths(seed: int, journeys: int = 400, channels: str = "abcde") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows: list[tuple[list[str], float | None]] = []
    for _ in range(journeys):
        path = list(rng.choice(list(channels), size=int(rng.integers(1, 5))))
        converts = rng.random() < 0.15 + 0.1 * ("c" in path) + 0.05 * path.count("a")
        rows.append((path, float(rng.integers(5, 200)) if converts else None))
    return paths_frame(rows)


def removal_by_direct_solve(matrix: pd.DataFrame, removed: str | None) -> float:
    """P(conversion | start) with ``removed`` sent to null: one linear solve of the modified chain."""
    states = list(matrix.index)
    q = matrix[[s for s in states if s != "(start)"]].to_numpy()
    q = np.c_[q, np.zeros(len(states))]  # nothing moves into start
    if removed is not None:
        q[:, states.index(removed)] = 0.0
    x = np.linalg.solve(np.eye(len(states)) - q, matrix[CONVERSION].to_numpy())
    return float(x[states.index("(start)")])


def test_one_solve_shortcut_equals_one_solve_per_removed_state() -> None:
    model = MarkovAttribution().fit(random_paths(3))

    base = removal_by_direct_solve(model.transition_matrix_, None)
    assert base == pytest.approx(model.conversion_probability_)
    for state in model.states_:
        expected = 1 - removal_by_direct_solve(model.transition_matrix_, state) / base
        assert model.removal_effects_[state] == pytest.approx(expected, abs=1e-12), state


def simulate_chain(matrix: pd.DataFrame, removed: str | None, walks: int, seed: int) -> float:
    """Share of ``walks`` random walks from start that reach conversion (``removed`` leads to null)."""
    rng = np.random.default_rng(seed)
    states = [*matrix.index, CONVERSION, NULL]  # touchpoints, start, then the absorbing states
    columns = [s for s in matrix.index if s != "(start)"]
    probabilities = np.zeros((len(states), len(states)))
    rows = matrix[[*columns, CONVERSION, NULL]].to_numpy()
    target = [states.index(c) for c in [*columns, CONVERSION, NULL]]
    probabilities[: len(matrix), target] = rows
    if removed is not None:
        k = states.index(removed)
        probabilities[:, states.index(NULL)] += probabilities[:, k]
        probabilities[:, k] = 0.0
    for absorbing in (CONVERSION, NULL):
        probabilities[states.index(absorbing), states.index(absorbing)] = 1.0
    cumulative = probabilities.cumsum(axis=1)
    position = np.full(walks, states.index("(start)"))
    for _ in range(200):
        position = np.minimum((rng.random(walks)[:, None] > cumulative[position]).sum(axis=1), len(states) - 1)
    return float(np.mean(position == states.index(CONVERSION)))


def test_removal_effects_match_a_seeded_simulation_of_the_chain() -> None:
    model = MarkovAttribution().fit(random_paths(11))
    walks = 40_000
    base = simulate_chain(model.transition_matrix_, None, walks, seed=1)
    assert base == pytest.approx(model.conversion_probability_, abs=4 * np.sqrt(0.25 / walks))
    for i, state in enumerate(model.states_):
        removed = simulate_chain(model.transition_matrix_, state, walks, seed=2 + i)
        expected = model.conversion_probability_ * (1 - model.removal_effects_[state])
        assert removed == pytest.approx(expected, abs=4 * np.sqrt(0.25 / walks)), state


def test_credits_sum_to_conversions_and_value_and_follow_the_level() -> None:
    paths = random_paths(5)
    for by in ("channels", "campaigns"):
        model = MarkovAttribution(by=by).fit(paths)
        assert model.credits_["conversions"].sum() == pytest.approx(paths["converted"].sum())
        assert model.credits_["value"].sum() == pytest.approx(paths["conversion_value"].sum())
        assert (model.credits_ >= 0).all().all()
    assert set(MarkovAttribution(by="campaigns").fit(paths).credits_.index) == {f"cmp-{c}" for c in "abcde"}


def test_a_channel_that_never_leads_to_conversion_gets_nothing() -> None:
    paths = paths_frame([(["A"], 10.0), (["A"], None), (["Z"], None), (["Z", "Z"], None)])

    model = MarkovAttribution().fit(paths)

    assert model.credits_.loc["Z"].tolist() == [0.0, 0.0] and model.credits_.loc["A", "conversions"] == 1.0


def test_zero_values_and_bad_input() -> None:
    zero_value = paths_frame([(["A", "B"], 0.0), (["B"], None)])
    credits = MarkovAttribution().fit(zero_value).credits_
    assert credits["value"].tolist() == [0.0, 0.0] and credits["conversions"].sum() == pytest.approx(1.0)
    with pytest.raises(NotReady):
        MarkovAttribution().fit(paths_frame([(["A"], None)]))
    with pytest.raises(InvalidInput, match="value_method"):
        MarkovAttribution(value_method="median").fit(HAND)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="by must be one of"):
        MarkovAttribution(by="creatives").fit(HAND)  # type: ignore[arg-type]
