"""Re-identification tests of cross-client aggregates: no published cell below the thresholds or dominated by
two clients, no contributor anywhere in the output, and noise of the stated scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InvalidInput
from privacy.aggregates import (
    CONTRIBUTOR,
    MIN_CLIENTS_FLOOR,
    Thresholds,
    add_laplace,
    laplace_scales,
    noise_generator,
    pool,
)

SENSITIVITIES = {"visitors": 1.0, "converted_visitors": 1.0, "sessions": 20.0, "conversions": 20.0}
CELLS = ("search", "social", "email", "direct")
SECRET_LABELS = [f"client-secret-{i:02d}" for i in range(12)]


@st.composite
def contributions(draw: st.DrawFn) -> pd.DataFrame:
    """Per (cell, client) rows with consistent counts and optional spend; client labels are marker strings."""
    rows = []
    for cell in CELLS:
        clients = draw(st.lists(st.sampled_from(SECRET_LABELS), max_size=7, unique=True))
        for label in clients:
            visitors = draw(st.integers(0, 60))
            converted = draw(st.integers(0, visitors))
            sessions = visitors + draw(st.integers(0, 40))
            conversions = min(sessions, converted + draw(st.integers(0, 5)))
            spend = draw(st.one_of(st.none(), st.floats(0, 500, allow_nan=False)))
            rows.append(
                {
                    "cell": cell,
                    CONTRIBUTOR: label,
                    "visitors": visitors,
                    "converted_visitors": converted,
                    "sessions": sessions,
                    "conversions": conversions,
                    "spend": np.nan if spend is None else spend,
                }
            )
    columns = ["cell", CONTRIBUTOR, *SENSITIVITIES, "spend"]
    return pd.DataFrame(rows, columns=columns)


thresholds_strategy = st.builds(
    Thresholds,
    min_visitors=st.integers(2, 60),
    min_clients=st.integers(MIN_CLIENTS_FLOOR, 6),
    dominance_share=st.sampled_from([0.9, 0.8, 1.0]),
)


def _exact(frame: pd.DataFrame, cell: str) -> pd.DataFrame:
    return frame[(frame["cell"] == cell) & (frame["visitors"] > 0)]


@settings(max_examples=60, deadline=None)
@given(frame=contributions(), thresholds=thresholds_strategy, noisy=st.booleans(), seed=st.integers(0, 2**32))
def test_no_published_cell_is_below_the_thresholds_or_dominated(
    frame: pd.DataFrame, thresholds: Thresholds, noisy: bool, seed: int
) -> None:
    result = pool(
        frame,
        cell="cell",
        thresholds=thresholds,
        sensitivities=SENSITIVITIES,
        sums=("spend",),
        epsilon=1.0 if noisy else None,
        rng=np.random.default_rng(seed),
    )
    published = set(result.cells["cell"])
    for cell in published:
        rows = _exact(frame, cell)
        visitors = rows.groupby(CONTRIBUTOR)["visitors"].sum().sort_values(ascending=False)
        assert visitors.sum() >= thresholds.min_visitors
        assert len(visitors) >= thresholds.min_clients
        assert visitors.iloc[:2].sum() <= thresholds.dominance_share * visitors.sum() + 1e-9
        spend = frame[frame["cell"] == cell].groupby(CONTRIBUTOR)["spend"].sum().sort_values(ascending=False)
        spend = spend[spend > 0]
        published_spend = result.cells.set_index("cell").loc[cell, "spend"]
        if np.isfinite(published_spend):
            assert len(spend) >= thresholds.min_clients
            assert spend.iloc[:2].sum() <= thresholds.dominance_share * spend.sum() + 1e-9
            assert published_spend == pytest.approx(spend.sum())
        if not noisy:
            assert result.cells.set_index("cell").loc[cell, "visitors"] == visitors.sum()
    present = {c for c in CELLS if c in set(frame["cell"])}
    assert published <= present
    assert result.suppressed == len(present) - len(published)


@settings(max_examples=40, deadline=None)
@given(frame=contributions(), noisy=st.booleans())
def test_no_contributor_appears_anywhere_in_the_output(frame: pd.DataFrame, noisy: bool) -> None:
    result = pool(
        frame,
        cell="cell",
        thresholds=Thresholds(2, 3),
        sensitivities=SENSITIVITIES,
        sums=("spend",),
        epsilon=0.5 if noisy else None,
        rng=np.random.default_rng(0),
    )
    text = result.cells.to_csv() + repr(result)
    assert CONTRIBUTOR not in result.cells.columns
    assert not [label for label in SECRET_LABELS if label in text]


@settings(max_examples=25, deadline=None)
@given(frame=contributions(), seed=st.integers(0, 2**32))
def test_noisy_counts_are_whole_non_negative_and_consistent(frame: pd.DataFrame, seed: int) -> None:
    result = pool(
        frame,
        cell="cell",
        thresholds=Thresholds(2, 3),
        sensitivities=SENSITIVITIES,
        epsilon=0.1,
        rng=np.random.default_rng(seed),
    )
    cells = result.cells
    for name in SENSITIVITIES:
        assert (cells[name] >= 0).all() and cells[name].dtype == np.int64
    assert (cells["converted_visitors"] <= cells["visitors"]).all()
    assert (cells["conversions"] <= cells["sessions"]).all()


def test_noise_has_the_stated_scale() -> None:
    """The budget is split over the counts: scale = J · sensitivity / epsilon; the mean absolute error of Laplace
    noise is its scale."""
    epsilon = 2.0
    scales = laplace_scales(epsilon, SENSITIVITIES)
    assert scales == {"visitors": 2.0, "converted_visitors": 2.0, "sessions": 40.0, "conversions": 40.0}
    n = 40_000
    values = {"visitors": 1_000_000, "converted_visitors": 500_000, "sessions": 1_000_000, "conversions": 500_000}
    exact = pd.DataFrame({name: np.full(n, value, dtype=np.int64) for name, value in values.items()})
    noisy = add_laplace(exact, scales, np.random.default_rng(7))
    for name, scale in scales.items():
        errors = noisy[name].to_numpy(float) - values[name]
        assert abs(errors.mean()) < 0.05 * scale + 0.5
        assert np.abs(errors).mean() == pytest.approx(scale, rel=0.05)


def test_the_same_secret_and_data_give_the_same_noise_and_others_do_not() -> None:
    def draw(secret: bytes, fingerprint: bytes) -> np.ndarray:
        return noise_generator(secret, fingerprint).laplace(0, 1, size=8)

    assert np.array_equal(draw(b"k" * 32, b"data"), draw(b"k" * 32, b"data"))
    assert not np.array_equal(draw(b"k" * 32, b"data"), draw(b"x" * 32, b"data"))
    assert not np.array_equal(draw(b"k" * 32, b"data"), draw(b"k" * 32, b"other"))


def test_a_cell_of_two_clients_or_a_dominant_pair_is_suppressed() -> None:
    rows = [
        ("two", "a", 50),
        ("two", "b", 50),
        ("dominated", "a", 95),
        ("dominated", "b", 4),
        ("dominated", "c", 2),
        ("small", "a", 3),
        ("small", "b", 3),
        ("small", "c", 3),
        ("fine", "a", 10),
        ("fine", "b", 10),
        ("fine", "c", 10),
    ]
    frame = pd.DataFrame(rows, columns=["cell", CONTRIBUTOR, "visitors"]).assign(spend=np.nan)
    result = pool(frame, cell="cell", thresholds=Thresholds(10, 3), sensitivities={"visitors": 1})
    assert list(result.cells["cell"]) == ["fine"] and result.suppressed == 3
    assert result.cells["visitors"].tolist() == [30]


def test_thresholds_can_be_raised_never_lowered() -> None:
    assert Thresholds.raised(10, 3, None, None) == Thresholds(10, 3)
    assert Thresholds.raised(10, 3, 50, 5) == Thresholds(50, 5)
    with pytest.raises(InvalidInput, match="never lowered"):
        Thresholds.raised(10, 3, 5, None)
    with pytest.raises(InvalidInput, match="never lowered"):
        Thresholds.raised(10, 4, None, 3)
    with pytest.raises(InvalidInput, match="at least 3 clients"):
        Thresholds(10, 2)
    with pytest.raises(InvalidInput, match="epsilon"):
        laplace_scales(0.0, SENSITIVITIES)
    with pytest.raises(InvalidInput, match="epsilon"):
        laplace_scales(float("nan"), SENSITIVITIES)
