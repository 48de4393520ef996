"""k-anonymity of the quasi-identifiers of training rows: counts, plan, apply, report (promise P11)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.errors import InvalidInput
from features.kanonymity import (
    DEFAULT_K,
    LADDER,
    QUASI_IDENTIFIERS,
    GeneralizationPlan,
    PrivacyReport,
    apply_plan,
    combination_counts,
    merge_counts,
    min_group_size,
    plan_generalization,
)

Combo = tuple[str | None, str | None, str | None, str | None]


def _frame(groups: Sequence[tuple[Combo, int]], *, categorical: bool = False) -> pd.DataFrame:
    """Rows of the given combinations (each repeated), with an ``id`` and a ``value`` column around them."""
    combos = [combo for combo, times in groups for _ in range(times)]
    frame = pd.DataFrame(
        {
            "id": np.arange(len(combos), dtype="int64"),
            **{c: pd.Series([combo[i] for combo in combos], dtype=object) for i, c in enumerate(QUASI_IDENTIFIERS)},
            "value": np.arange(len(combos), dtype="float64") / 2,
        }
    )
    if categorical:
        frame = frame.astype(dict.fromkeys(QUASI_IDENTIFIERS, "category"))
    return frame


def _combos(frame: pd.DataFrame) -> Counter[tuple[Any, ...]]:
    """Rows per combination of released values, missing as None."""
    values = frame.loc[:, list(QUASI_IDENTIFIERS)].astype(object)
    return Counter(tuple(None if pd.isna(v) else v for v in row) for row in values.itertuples(index=False))


def _count_table(counts: pd.DataFrame) -> dict[tuple[Any, ...], int]:
    return {tuple(row[:-1]): row[-1] for row in counts.itertuples(index=False)}


def _ancestors(column: str, value: Any) -> set[Any]:
    """The original value and every coarser one the rules allow (written here, not taken from the ladder)."""
    if pd.isna(value):
        return {None}
    if column == "region":
        return {value, value.split("-")[0] or None, None}
    return {value, None}


def _plan_facts(plan: GeneralizationPlan) -> dict[str, Any]:
    return {f.name: getattr(plan, f.name) for f in fields(plan) if f.name != "mapping"}


def _assert_same_plan(left: GeneralizationPlan, right: GeneralizationPlan) -> None:
    pd.testing.assert_frame_equal(left.mapping, right.mapping)
    assert _plan_facts(left) == _plan_facts(right)


BE: Combo = ("DE-BE", "desktop", "Chrome", "Windows")


# counting ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("categorical", [False, True])
def test_counts_group_missing_values_as_a_value_of_their_own(categorical: bool) -> None:
    frame = _frame(
        [
            (BE, 3),
            ((None, "desktop", "Chrome", "Windows"), 2),
            ((None, "mobile", None, "iOS"), 1),
            (("FR", "mobile", None, "iOS"), 4),
        ],
        categorical=categorical,
    )
    frame.loc[frame["id"] == 3, "region"] = np.nan  # NaN and None are both missing

    counts = combination_counts(frame)

    assert list(counts.columns) == [*QUASI_IDENTIFIERS, "rows"]
    assert counts["rows"].dtype == "int64"
    assert all(counts[c].dtype == object for c in QUASI_IDENTIFIERS)
    assert _count_table(counts) == {
        BE: 3,
        (None, "desktop", "Chrome", "Windows"): 2,
        (None, "mobile", None, "iOS"): 1,
        ("FR", "mobile", None, "iOS"): 4,
    }
    assert all(v is None or isinstance(v, str) for c in QUASI_IDENTIFIERS for v in counts[c])


def test_counts_of_partitions_merge_to_the_counts_of_the_whole() -> None:
    frame = _random_frame(300, seed=1)
    parts = [frame.iloc[i : i + 70] for i in range(0, len(frame), 70)]

    merged = merge_counts(combination_counts(p) for p in reversed(parts))

    pd.testing.assert_frame_equal(merged, combination_counts(frame))
    assert merged["rows"].sum() == len(frame)


def test_min_group_size() -> None:
    frame = _frame([(BE, 4), ((None, None, None, None), 2), (("FR", "tablet", "Edge", "Linux"), 7)])
    assert min_group_size(frame) == 2
    assert min_group_size(frame, ["device_class"]) == 2
    assert min_group_size(frame, ["os_family", "browser_family"]) == 2
    assert min_group_size(frame.iloc[:0]) == 0


# validation ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 0, -3, 2.5, "10", True, None])
def test_k_must_be_an_integer_of_at_least_two(k: Any) -> None:
    counts = combination_counts(_frame([(BE, 5)]))
    with pytest.raises(InvalidInput, match="k must be"):
        plan_generalization(counts, k)


def test_missing_quasi_identifier_columns_are_named() -> None:
    frame = _frame([(BE, 12)])
    plan = plan_generalization(combination_counts(frame))
    lacking = frame.drop(columns=["os_family", "region"])
    for call in (combination_counts, min_group_size, lambda f: apply_plan(f, plan)):
        with pytest.raises(InvalidInput, match="region, os_family") as caught:
            call(lacking)
        assert "device_class" not in str(caught.value)


def test_apply_refuses_combinations_the_plan_does_not_know() -> None:
    plan = plan_generalization(combination_counts(_frame([(BE, 12)])))
    with pytest.raises(InvalidInput, match="1 row"):
        apply_plan(_frame([(BE, 3), (("FR", "desktop", "Chrome", "Windows"), 1)]), plan)


# each step of the ladder ---------------------------------------------------------------------------
def test_the_ladder_goes_from_fine_to_coarse() -> None:
    assert [(s.column, s.coarsen("DE-BE")) for s in LADDER] == [
        ("region", "DE"),
        ("browser_family", None),
        ("os_family", None),
        ("region", None),
        ("device_class", None),
    ]
    assert DEFAULT_K == 10


def test_common_combinations_are_released_unchanged() -> None:
    frame = _frame([(BE, 10), (("FR-75", "mobile", None, "iOS"), 15)])
    plan = plan_generalization(combination_counts(frame))
    released = apply_plan(frame, plan)

    assert _combos(released) == _combos(frame)
    assert plan.rows_generalized_total == 0 and plan.rows_suppressed == 0
    assert set(plan.rows_generalized.values()) == {0}
    assert plan.min_group_size_before == plan.min_group_size_after == 10
    assert plan.combinations_before == plan.combinations_after == 2


def test_rare_regions_become_their_country() -> None:
    big = ("FR-75", "desktop", "Chrome", "Windows")
    frame = _frame([(BE, 6), (("DE-BY", "desktop", "Chrome", "Windows"), 4), (big, 12)])
    plan = plan_generalization(combination_counts(frame), k=10)

    assert _combos(apply_plan(frame, plan)) == {("DE", "desktop", "Chrome", "Windows"): 10, big: 12}
    assert plan.rows_generalized["region_to_country"] == 10
    assert plan.rows_generalized_total == 10
    assert sum(plan.rows_generalized.values()) == 10  # no later step was needed


def test_a_region_without_subdivision_is_already_a_country() -> None:
    frame = _frame([(("DE", "desktop", "Chrome", "Windows"), 9), (("DE", "desktop", "Firefox", "Windows"), 1)])
    plan = plan_generalization(combination_counts(frame), k=10)

    assert _combos(apply_plan(frame, plan)) == {("DE", "desktop", None, "Windows"): 10}
    assert plan.rows_generalized["region_to_country"] == 0
    assert plan.rows_generalized["browser_family_to_missing"] == 10


def test_rare_browsers_then_operating_systems_become_missing() -> None:
    frame = _frame(
        [
            (("DE-BE", "mobile", "Chrome", "Android"), 4),
            (("DE-BE", "mobile", "Samsung", "Android"), 3),
            (("DE-BY", "mobile", "Safari", "iOS"), 3),
        ]
    )
    plan = plan_generalization(combination_counts(frame), k=10)

    assert _combos(apply_plan(frame, plan)) == {("DE", "mobile", None, None): 10}
    assert plan.rows_generalized == {
        "region_to_country": 10,
        "browser_family_to_missing": 10,
        "os_family_to_missing": 10,
        "region_to_missing": 0,
        "device_class_to_missing": 0,
    }


def test_rare_countries_then_device_classes_become_missing() -> None:
    frame = _frame(
        [
            (("DE-BE", "desktop", "Chrome", "Windows"), 5),
            (("FR-75", "desktop", "Chrome", "Windows"), 5),
            (("IT", "tablet", None, None), 3),
            (("IT", "mobile", None, None), 4),
            ((None, "mobile", None, None), 3),
        ]
    )
    plan = plan_generalization(combination_counts(frame), k=10)

    assert _combos(apply_plan(frame, plan)) == {(None, "desktop", None, None): 10, (None, None, None, None): 10}
    assert plan.rows_generalized["region_to_missing"] == 17  # the three rows without a region stay as they were
    assert plan.rows_generalized["device_class_to_missing"] == 10
    assert plan.rows_suppressed == 0


def test_what_stays_rare_is_suppressed_and_the_rest_kept_as_is() -> None:
    big = ("FR-75", "mobile", "Safari", "iOS")
    frame = _frame([(big, 20), (BE, 1), (("IT-RM", "tablet", "Edge", "Linux"), 2)])
    plan = plan_generalization(combination_counts(frame), k=10)
    released = apply_plan(frame, plan)

    assert _combos(released) == {big: 20}
    assert plan.rows_suppressed == 3 and plan.rows_out == 20 and plan.rows_in == 23
    assert plan.rows_generalized_total == 0  # suppressed rows are not counted as generalized
    assert list(released["region"].cat.categories) == ["FR-75"]  # nothing of the suppressed rows leaks
    assert plan.mapping["suppressed"].sum() == 2


def test_all_unique_rows_are_fully_generalized() -> None:
    regions = ["DE-BE", "DE-BY", "FR-75", "IT-RM", "ES-MD", "AT-9"]
    devices = ["desktop", "mobile", "tablet", "unknown", None]
    groups = [
        ((r, d, f"browser-{i}", f"os-{i}"), 1) for i, (r, d) in enumerate(zip(regions * 5, devices * 6, strict=True))
    ]
    frame = _frame(groups)
    assert min_group_size(frame) == 1

    plan = plan_generalization(combination_counts(frame), k=10)

    assert _combos(apply_plan(frame, plan)) == {(None, None, None, None): 30}
    assert plan.rows_generalized_total == 30
    assert plan.combinations_before == 30 and plan.combinations_after == 1


def test_k_larger_than_the_frame_suppresses_everything() -> None:
    frame = _frame([(BE, 6), ((None, None, None, None), 3)])
    plan = plan_generalization(combination_counts(frame), k=10)
    released = apply_plan(frame, plan)

    assert released.empty
    assert list(released.columns) == list(frame.columns)
    assert plan.rows_suppressed == 9 and plan.rows_out == 0
    assert plan.min_group_size_after == 0 and plan.combinations_after == 0
    assert PrivacyReport.from_plan(plan).holds


def test_empty_frame() -> None:
    frame = _frame([])
    counts = combination_counts(frame)
    plan = plan_generalization(counts)
    released = apply_plan(frame, plan)

    assert counts.empty and list(counts.columns) == [*QUASI_IDENTIFIERS, "rows"]
    assert (plan.rows_in, plan.rows_out, plan.rows_suppressed, plan.combinations_before) == (0, 0, 0, 0)
    assert released.empty and list(released.columns) == list(frame.columns)
    assert all(isinstance(released[c].dtype, pd.CategoricalDtype) for c in QUASI_IDENTIFIERS)
    assert min_group_size(released) == 0


# applying ------------------------------------------------------------------------------------------
def test_apply_keeps_other_columns_their_order_and_the_row_order() -> None:
    frame = _frame([(BE, 12), (("DE-BY", "mobile", "Safari", "iOS"), 1)]).sample(frac=1.0, random_state=5)
    frame.index = pd.Index(np.arange(len(frame))[::-1] * 10)
    frame = frame.loc[:, ["os_family", "id", "region", "value", "browser_family", "device_class"]]

    plan = plan_generalization(combination_counts(frame))
    released = apply_plan(frame, plan)

    assert plan.rows_suppressed == 1
    assert list(released.columns) == list(frame.columns)
    expected = frame[frame["region"] == "DE-BE"]
    assert released.index.equals(expected.index)
    pd.testing.assert_frame_equal(released[["id", "value"]], expected[["id", "value"]])
    for column in QUASI_IDENTIFIERS:
        dtype = released[column].dtype
        assert isinstance(dtype, pd.CategoricalDtype)
        assert dtype.categories.dtype == "str"
        assert list(dtype.categories) == sorted(dtype.categories)


def test_the_plan_does_not_depend_on_row_order() -> None:
    frame = _random_frame(400, seed=2)
    counts = combination_counts(frame)
    plan = plan_generalization(counts, k=7)

    shuffled_counts = counts.sample(frac=1.0, random_state=9).reset_index(drop=True)
    _assert_same_plan(plan_generalization(shuffled_counts, k=7), plan)
    shuffled = frame.sample(frac=1.0, random_state=4)
    _assert_same_plan(plan_generalization(combination_counts(shuffled), k=7), plan)

    by_id = apply_plan(shuffled, plan).set_index("id").sort_index()
    pd.testing.assert_frame_equal(by_id, apply_plan(frame, plan).set_index("id"))


def test_partitions_give_the_plan_and_the_rows_of_the_whole_frame() -> None:
    frame = _random_frame(500, seed=3)
    parts = [frame.iloc[i : i + 120] for i in range(0, len(frame), 120)]

    plan = plan_generalization(merge_counts(combination_counts(p) for p in parts))
    whole = plan_generalization(combination_counts(frame))
    _assert_same_plan(plan, whole)

    released_parts = [apply_plan(p, plan) for p in parts]
    for column in QUASI_IDENTIFIERS:  # every partition gets the same categories
        assert len({tuple(p[column].cat.categories) for p in released_parts}) == 1
    pd.testing.assert_frame_equal(pd.concat(released_parts), apply_plan(frame, whole))
    assert min_group_size(pd.concat(released_parts)) >= DEFAULT_K


def test_apply_plan_runs_as_a_dask_map_partitions_function() -> None:
    dd = pytest.importorskip("dask.dataframe")
    frame = _random_frame(400, seed=6)
    frame[list(QUASI_IDENTIFIERS)] = frame[list(QUASI_IDENTIFIERS)].astype("category")
    ddf = dd.from_pandas(frame, npartitions=4)

    counts = merge_counts(part.compute() for part in ddf.map_partitions(combination_counts).to_delayed())
    plan = plan_generalization(counts)
    released = ddf.map_partitions(apply_plan, plan, meta=apply_plan(frame.iloc[:0], plan)).compute()

    expected = apply_plan(frame, plan_generalization(combination_counts(frame)))
    pd.testing.assert_frame_equal(released, expected, check_dtype=False, check_categorical=False)
    for column in QUASI_IDENTIFIERS:
        assert list(released[column].cat.categories) == list(expected[column].cat.categories)
    assert min_group_size(released) >= DEFAULT_K


# the report ----------------------------------------------------------------------------------------
def test_report_round_trips_through_json_and_reads_well() -> None:
    frame = _frame(
        [
            (BE, 600),
            (("DE-BY", "mobile", "Safari", "iOS"), 700),
            (("IT-RM", "tablet", "Edge", "Linux"), 3),  # rare however coarse: suppressed
            (("DE-BY", "mobile", "Firefox", "iOS"), 9),  # rare until the region is the country
            (("DE-BE", "mobile", "Firefox", "iOS"), 1),
        ]
    )
    plan = plan_generalization(combination_counts(frame))
    report = PrivacyReport.from_plan(
        plan, identifier_columns_removed=["visitor_id", "session_id"], time_granularity="hour"
    )

    assert report.identifier_columns_removed == ("visitor_id", "session_id")
    assert report.rows_in == 1313 == report.rows_out + report.rows_suppressed
    assert (report.rows_suppressed, report.rows_generalized_total) == (3, 10)
    text = report.to_json()
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["quasi_identifiers"] == list(QUASI_IDENTIFIERS)
    assert PrivacyReport.from_json(text) == report
    assert PrivacyReport.from_dict(report.to_dict()) == report

    summary = report.summary()
    assert summary.startswith("k = 10 holds")
    assert "10 of 1,313 rows generalized (region→country 10)" in summary
    assert "3 suppressed" in summary and "browser_family→missing" not in summary
    assert "\n" not in summary


def test_report_defaults_and_a_broken_report_says_so() -> None:
    report = PrivacyReport.from_plan(plan_generalization(combination_counts(_frame([(BE, 12)]))))
    assert report.identifier_columns_removed == ()
    assert report.row_key_scheme and report.time_granularity

    broken = PrivacyReport.from_dict({**report.to_dict(), "min_group_size_after": 4})
    assert not broken.holds
    assert "does NOT hold" in broken.summary()
    with pytest.raises(TypeError):
        PrivacyReport.from_dict({**report.to_dict(), "surprise": 1})


# properties ----------------------------------------------------------------------------------------
REGIONS = ["DE-BE", "DE-BY", "DE", "FR-75", "FR-13", "IT", None]
DEVICES = ["desktop", "mobile", "tablet", "unknown", None]
BROWSERS = ["Chrome", "Firefox", "Safari", "Edge", None]
SYSTEMS = ["Windows", "iOS", "Android", "Linux", None]


def _random_frame(n: int, seed: int) -> pd.DataFrame:
    """``n`` rows with skewed quasi-identifiers: some combinations common, many rare."""
    rng = np.random.default_rng(seed)

    def skewed(values: list[str | None]) -> list[str | None]:
        weights = 1.0 / np.arange(1, len(values) + 1) ** 1.5
        return [values[i] for i in rng.choice(len(values), size=n, p=weights / weights.sum())]

    return _frame(
        [
            ((r, d, b, o), 1)
            for r, d, b, o in zip(skewed(REGIONS), skewed(DEVICES), skewed(BROWSERS), skewed(SYSTEMS), strict=True)
        ]
    )


combos = st.tuples(
    st.sampled_from(REGIONS), st.sampled_from(DEVICES), st.sampled_from(BROWSERS), st.sampled_from(SYSTEMS)
)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    groups=st.lists(st.tuples(combos, st.integers(1, 12)), max_size=25),
    k=st.integers(2, 25),
    split=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_released_rows_are_k_anonymous_and_never_finer(
    groups: list[tuple[Combo, int]], k: int, split: float, seed: int
) -> None:
    frame = _frame(groups).sample(frac=1.0, random_state=seed)
    plan = plan_generalization(combination_counts(frame), k)
    released = apply_plan(frame, plan)

    # every released combination has at least k rows
    assert all(n >= k for n in _combos(released).values())
    assert min_group_size(released) == plan.min_group_size_after
    # the books balance
    assert plan.rows_in == len(frame) == plan.rows_out + plan.rows_suppressed
    assert len(released) == plan.rows_out
    assert plan.rows_generalized_total <= min(plan.rows_out, sum(plan.rows_generalized.values()))
    # no row gains information: each value is the original or a coarser ancestor of it
    originals = frame.set_index("id").loc[released["id"]]
    for column in QUASI_IDENTIFIERS:
        for before, after in zip(originals[column], released[column].astype(object), strict=True):
            assert (None if pd.isna(after) else after) in _ancestors(column, before)
    # counts of two partitions give the same plan
    cut = int(split * len(frame))
    merged = merge_counts([combination_counts(frame.iloc[:cut]), combination_counts(frame.iloc[cut:])])
    _assert_same_plan(plan_generalization(merged, k), plan)
