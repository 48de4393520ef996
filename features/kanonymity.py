"""k-anonymity of the quasi-identifiers of training rows (privacy promise P11), and the privacy report.

Training rows keep four quasi-identifiers (``QUASI_IDENTIFIERS``): ``region``, ``device_class``,
``browser_family`` and ``os_family``. After :func:`apply_plan`, every combination of their released values
appears in at least ``k`` rows (``DEFAULT_K`` = 10); a missing value counts as a value of its own.

Rare combinations are generalized step by step along ``LADDER``:

1. ``region_to_country``: region → its country, the part before the first "-" ("DE-BE" → "DE");
2. ``browser_family_to_missing``: browser_family → missing;
3. ``os_family_to_missing``: os_family → missing;
4. ``region_to_missing``: region → missing;
5. ``device_class_to_missing``: device_class → missing.

The recoding is local: at each step only the combinations whose *current* released combination has fewer
than ``k`` rows (summed over every original combination that now maps to it) take the step. A released
combination never loses rows, so one that reached ``k`` keeps it. What is still rarer than ``k`` after the
last step is suppressed (its rows are dropped).

The algorithm works on a table of combination counts, never on the rows, so the same code serves an
in-memory pandas frame and a Dask dataframe::

    counts = merge_counts(combination_counts(part) for part in partitions)   # or combination_counts(frame)
    plan = plan_generalization(counts, k)
    released = apply_plan(frame, plan)           # or ddf.map_partitions(apply_plan, plan)
    report = PrivacyReport.from_plan(plan)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InvalidInput
from features.manifest import ROW_KEY_SCHEME

QUASI_IDENTIFIERS: tuple[str, ...] = ("region", "device_class", "browser_family", "os_family")
DEFAULT_K = 10
ROWS = "rows"
SUPPRESSED = "suppressed"
RELEASED_PREFIX = "released_"
TIME_GRANULARITY = "hour of day and weekday in the client's time zone; client-local calendar day"
REPORT_FORMAT_VERSION = 1

Value = str | None


# the generalization ladder -------------------------------------------------------------------------
def region_to_country(value: Value) -> Value:
    """The country of a region code: the part before the first "-" ("DE-BE" → "DE", "DE" → "DE")."""
    if value is None:
        return None
    country = value.split("-", 1)[0]
    return country or None


def to_missing(value: Value) -> Value:
    """The coarsest value of all: missing."""
    return None


@dataclass(frozen=True)
class GeneralizationStep:
    """One rung of the ladder: the column it coarsens and how (a pure function value → coarser value)."""

    name: str
    column: str
    coarsen: Callable[[Value], Value]

    @property
    def label(self) -> str:
        """The name for humans, e.g. ``region→country``."""
        return self.name.replace("_to_", "→")


LADDER: tuple[GeneralizationStep, ...] = (
    GeneralizationStep("region_to_country", "region", region_to_country),
    GeneralizationStep("browser_family_to_missing", "browser_family", to_missing),
    GeneralizationStep("os_family_to_missing", "os_family", to_missing),
    GeneralizationStep("region_to_missing", "region", to_missing),
    GeneralizationStep("device_class_to_missing", "device_class", to_missing),
)


# validation and small helpers ----------------------------------------------------------------------
def check_k(k: object) -> int:
    """``k`` as an int, or ``InvalidInput`` unless it is an integer of at least 2."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
        raise InvalidInput(f"k must be an integer of at least 2, got {k!r}")
    return int(k)


def _check_columns(frame: pd.DataFrame, columns: Sequence[str], what: str = "the frame") -> tuple[str, ...]:
    columns = tuple(columns)
    if not columns:
        raise InvalidInput("at least one quasi-identifier column is needed")
    if ROWS in columns or len(set(columns)) != len(columns):
        raise InvalidInput(f"quasi-identifier columns must be distinct and not {ROWS!r}: {list(columns)}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{what} lacks the quasi-identifier column(s) {', '.join(missing)}")
    return columns


def _released(column: str) -> str:
    return f"{RELEASED_PREFIX}{column}"


def _objects(values: object) -> np.ndarray:
    """The values as an object array, missing ones (None, NaN, NA) as None."""
    array = np.array(values, dtype=object)  # a copy
    array[pd.isna(array)] = None
    return array


def _text_uniques(uniques: object) -> np.ndarray:
    """Distinct values as ``str`` objects, with a trailing None that answers the missing code -1."""
    text = [str(u) for u in _objects(uniques)]
    return np.array([*text, None], dtype=object)


def _coarsen(values: pd.Series, coarsen: Callable[[Value], Value]) -> np.ndarray:
    """``coarsen`` of each value, calling it once per distinct value (missing included)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    coarse = [coarsen(u) for u in _objects(uniques)] + [coarsen(None)]
    return np.array(coarse, dtype=object)[codes]


def _same(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Element-wise equality where missing equals missing."""
    left_na, right_na = pd.isna(left), pd.isna(right)
    return (left_na & right_na) | (~left_na & ~right_na & (left == right))


def _group_sizes(table: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """For each row of ``table``, the sum of ``rows`` over the rows with the same values in ``columns``."""
    if table.empty:
        return np.zeros(0, dtype="int64")
    groups = table.groupby(list(columns), dropna=False, sort=False).ngroup().to_numpy()
    return np.bincount(groups, weights=table[ROWS].to_numpy()).astype("int64")[groups]


def _empty_counts(columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame({c: np.array([], dtype=object) for c in columns})
    frame[ROWS] = np.array([], dtype="int64")
    return frame


# counting ------------------------------------------------------------------------------------------
def _combinations(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The distinct combinations of ``frame`` (text, None for missing, with ``rows``) and each row's one.

    Works on the factorized codes of each column, so the rows are never turned into Python strings.
    """
    codes: dict[str, np.ndarray] = {}
    texts: dict[str, np.ndarray] = {}
    for column in columns:
        codes[column], uniques = pd.factorize(frame[column], use_na_sentinel=True)
        texts[column] = _text_uniques(uniques)
    grouped = pd.DataFrame(codes).groupby(list(columns), sort=True)
    which = grouped.ngroup().to_numpy(dtype="int64")
    sizes = grouped.size()
    distinct = sizes.index.to_frame(index=False)
    combos = pd.DataFrame(
        {c: texts[c][distinct[c].to_numpy(dtype="int64")] for c in columns}, columns=list(columns), dtype=object
    )
    combos[ROWS] = sizes.to_numpy(dtype="int64")
    return combos, which


def merge_counts(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Counts of several partitions summed by combination (missing values grouped, not dropped).

    Every part has the same quasi-identifier columns plus ``rows``; the result is sorted by combination
    (missing last), so it does not depend on the order of the parts or of their rows.
    """
    parts = list(parts)
    if not parts:
        return _empty_counts(QUASI_IDENTIFIERS)
    columns = [c for c in parts[0].columns if c != ROWS]
    for part in parts:
        if ROWS not in part.columns or sorted(c for c in part.columns if c != ROWS) != sorted(columns):
            raise InvalidInput(
                f"counts to merge must all have the columns {[*columns, ROWS]}, got {list(part.columns)}"
            )
    if not columns:
        raise InvalidInput("counts to merge have no quasi-identifier column")
    stacked = pd.concat([p.loc[:, [*columns, ROWS]].astype({c: object for c in columns}) for p in parts])
    if stacked.empty:
        return _empty_counts(columns)
    summed = stacked.groupby(columns, dropna=False, sort=True)[ROWS].sum().reset_index()
    merged = pd.DataFrame({c: _objects(summed[c].to_numpy()) for c in columns}, columns=columns, dtype=object)
    merged[ROWS] = summed[ROWS].to_numpy(dtype="int64")
    return merged


def combination_counts(frame: pd.DataFrame, columns: Sequence[str] = QUASI_IDENTIFIERS) -> pd.DataFrame:
    """How many rows of ``frame`` (one pandas partition or a whole frame) carry each combination.

    The columns ``columns`` hold the values as ``str`` objects (None for missing), ``rows`` the count
    (int64). Counts of several partitions combine with :func:`merge_counts`.
    """
    columns = _check_columns(frame, columns)
    combos, _ = _combinations(frame, columns)
    return merge_counts([combos])


def min_group_size(frame: pd.DataFrame, columns: Sequence[str] = QUASI_IDENTIFIERS) -> int:
    """The number of rows of the rarest combination of ``columns`` in ``frame`` (0 for an empty frame)."""
    counts = combination_counts(frame, columns)
    return int(counts[ROWS].min()) if len(counts) else 0


# planning ------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GeneralizationPlan:
    """What :func:`plan_generalization` decided, and statistics on it.

    ``mapping`` has one row per original combination: the quasi-identifier columns (original values),
    ``released_<column>`` (released values), ``rows`` and ``suppressed``. ``categories`` holds, per column,
    the sorted released values of the rows kept: the categories every partition gets. Statistics count the
    released rows only: ``rows_generalized`` maps each ladder step to the rows it changed,
    ``rows_generalized_total`` counts rows with at least one changed value.
    """

    k: int
    columns: tuple[str, ...]
    mapping: pd.DataFrame
    categories: dict[str, tuple[str, ...]]
    rows_generalized: dict[str, int]
    rows_generalized_total: int
    rows_suppressed: int
    rows_in: int
    rows_out: int
    min_group_size_before: int
    min_group_size_after: int
    combinations_before: int
    combinations_after: int

    def category_dtype(self, column: str) -> pd.CategoricalDtype:
        """The ``category`` dtype of a released column (sorted ``str`` categories)."""
        return pd.CategoricalDtype(pd.Index(list(self.categories[column]), dtype="str"))


def plan_generalization(counts: pd.DataFrame, k: int = DEFAULT_K) -> GeneralizationPlan:
    """The local recoding that makes every released combination of ``counts`` at least ``k`` rows strong.

    ``counts`` comes from :func:`combination_counts` or :func:`merge_counts`; its columns other than
    ``rows`` are the quasi-identifiers (ladder steps on other columns are skipped). The plan depends only
    on the combinations and their counts, not on the order of the rows of ``counts``.
    """
    k = check_k(k)
    if ROWS not in counts.columns:
        raise InvalidInput(f"combination counts need a {ROWS!r} column")
    table = merge_counts([counts])  # one row per combination, in a canonical order
    columns = tuple(c for c in table.columns if c != ROWS)
    rows = table[ROWS].to_numpy(dtype="int64")
    released = table.copy()
    steps = [step for step in LADDER if step.column in columns]
    changed: dict[str, np.ndarray] = {}
    for step in steps:
        rare = _group_sizes(released, columns) < k
        before = released[step.column].to_numpy(dtype=object)
        after = np.where(rare, _coarsen(released[step.column], step.coarsen), before)
        changed[step.name] = ~_same(before, after)
        released[step.column] = pd.Series(after, index=released.index, dtype=object)
    sizes = _group_sizes(released, columns)
    suppressed = sizes < k
    kept = ~suppressed

    mapping = table.loc[:, list(columns)].copy()
    for column in columns:
        mapping[_released(column)] = released[column]
    mapping[ROWS] = rows
    mapping[SUPPRESSED] = suppressed
    any_changed = np.zeros(len(table), dtype=bool)
    for column in columns:
        any_changed |= ~_same(table[column].to_numpy(dtype=object), released[column].to_numpy(dtype=object))
    return GeneralizationPlan(
        k=k,
        columns=columns,
        mapping=mapping.reset_index(drop=True),
        categories={c: tuple(sorted({v for v in released.loc[kept, c] if v is not None})) for c in columns},
        rows_generalized={name: int(rows[mask & kept].sum()) for name, mask in changed.items()},
        rows_generalized_total=int(rows[any_changed & kept].sum()),
        rows_suppressed=int(rows[suppressed].sum()),
        rows_in=int(rows.sum()),
        rows_out=int(rows[kept].sum()),
        min_group_size_before=int(rows.min()) if len(rows) else 0,
        min_group_size_after=int(sizes[kept].min()) if kept.any() else 0,
        combinations_before=len(table),
        combinations_after=len(released.loc[kept, list(columns)].drop_duplicates()),
    )


def apply_plan(frame: pd.DataFrame, plan: GeneralizationPlan) -> pd.DataFrame:
    """``frame`` with released quasi-identifiers (``category`` dtype of the plan) and no suppressed rows.

    Other columns, the column order and the order (and index) of the kept rows are unchanged. Pure, so it
    serves as a Dask ``map_partitions`` function. A combination the plan does not know is ``InvalidInput``:
    the plan must come from counts of the same data.
    """
    columns = _check_columns(frame, plan.columns)
    combos, which = _combinations(frame, columns)
    mapping = plan.mapping.drop(columns=ROWS)
    matched = combos.merge(mapping, on=list(columns), how="left", validate="many_to_one")
    unknown = matched[SUPPRESSED].isna().to_numpy()
    if unknown.any():
        raise InvalidInput(
            f"{int(matched.loc[unknown, ROWS].sum())} row(s) carry quasi-identifier combinations the plan "
            "does not know; plan from the counts of the same data"
        )
    keep = ~matched[SUPPRESSED].to_numpy(dtype=bool)[which]
    released = frame.loc[keep]
    for column in columns:
        dtype = plan.category_dtype(column)
        codes = dtype.categories.get_indexer(pd.Index(matched[_released(column)], dtype=object))
        released[column] = pd.Categorical.from_codes(codes[which][keep], dtype=dtype)
    return released


# the report ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrivacyReport:
    """What anonymizing a training set did, stored beside it; :meth:`summary` says it in one paragraph.

    The first fields come from the :class:`GeneralizationPlan`; ``identifier_columns_removed``,
    ``row_key_scheme`` and ``time_granularity`` describe the rest of the anonymization (the dataset builder
    fills them in).
    """

    k: int
    quasi_identifiers: tuple[str, ...]
    rows_in: int
    rows_out: int
    rows_generalized: dict[str, int]
    rows_generalized_total: int
    rows_suppressed: int
    min_group_size_before: int
    min_group_size_after: int
    combinations_before: int
    combinations_after: int
    identifier_columns_removed: tuple[str, ...] = ()
    row_key_scheme: str = ROW_KEY_SCHEME
    time_granularity: str = TIME_GRANULARITY
    format_version: int = field(default=REPORT_FORMAT_VERSION)

    @classmethod
    def from_plan(cls, plan: GeneralizationPlan, **anonymization: Any) -> PrivacyReport:
        """The report of a plan; keyword arguments set the other fields (``identifier_columns_removed``, …)."""
        report = cls(
            k=plan.k,
            quasi_identifiers=plan.columns,
            rows_in=plan.rows_in,
            rows_out=plan.rows_out,
            rows_generalized=dict(plan.rows_generalized),
            rows_generalized_total=plan.rows_generalized_total,
            rows_suppressed=plan.rows_suppressed,
            min_group_size_before=plan.min_group_size_before,
            min_group_size_after=plan.min_group_size_after,
            combinations_before=plan.combinations_before,
            combinations_after=plan.combinations_after,
        )
        if "identifier_columns_removed" in anonymization:
            anonymization["identifier_columns_removed"] = tuple(anonymization["identifier_columns_removed"])
        return replace(report, **anonymization)

    @property
    def holds(self) -> bool:
        """Whether every released combination has at least ``k`` rows."""
        return self.rows_out == 0 or self.min_group_size_after >= self.k

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        data = asdict(self)
        data["quasi_identifiers"] = list(self.quasi_identifiers)
        data["identifier_columns_removed"] = list(self.identifier_columns_removed)
        return data

    def to_json(self) -> str:
        """The report as indented, key-sorted JSON text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrivacyReport:
        """The report of a dict written by :meth:`to_dict` (unknown keys are refused)."""
        values = dict(data)
        values["quasi_identifiers"] = tuple(values["quasi_identifiers"])
        values["identifier_columns_removed"] = tuple(values.get("identifier_columns_removed", ()))
        values["rows_generalized"] = {str(name): int(n) for name, n in values["rows_generalized"].items()}
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> PrivacyReport:
        """The report of JSON text written by :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def summary(self) -> str:
        """One paragraph for humans, e.g. "k = 10 holds for region, …: 1,234 of 50,000 rows generalized …"."""
        labels = {step.name: step.label for step in LADDER}
        steps = ", ".join(f"{labels.get(name, name)} {n:,}" for name, n in self.rows_generalized.items() if n)
        verdict = "holds" if self.holds else f"does NOT hold (smallest group {self.min_group_size_after:,} rows)"
        text = (
            f"k = {self.k} {verdict} for {', '.join(self.quasi_identifiers)}: "
            f"{self.rows_generalized_total:,} of {self.rows_in:,} rows generalized"
            f"{f' ({steps})' if steps else ''}, {self.rows_suppressed:,} suppressed, {self.rows_out:,} released "
            f"in {self.combinations_after:,} combinations (was {self.combinations_before:,}; smallest group "
            f"{self.min_group_size_after:,} rows, was {self.min_group_size_before:,})."
        )
        if self.identifier_columns_removed:
            text += f" Identifier columns removed: {', '.join(self.identifier_columns_removed)}."
        return f"{text} Row keys: {self.row_key_scheme}. Times: {self.time_granularity}."
