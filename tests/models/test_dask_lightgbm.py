"""The conversion model trained by ``lightgbm.dask`` on a LocalCluster scores as well as the local model,
whatever categories the data files store, and its replayed early stopping is LightGBM's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dask.dataframe as dd
import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dask import delayed
from dask.distributed import Client, LocalCluster
from sklearn.metrics import log_loss, roc_auc_score

from core.errors import InvalidInput
from features.definitions import CATEGORICAL_FEATURES, FEATURE_NAMES, as_category
from models.conversion import ConversionModel
from models.dask_lightgbm import (
    DaskFitResult,
    align_categories,
    best_iteration_of,
    dask_frame_from_dataset,
    fit_dask_booster,
    validation_losses,
)

FEATURES = list(FEATURE_NAMES)
ROWS = 60_000
PARTS = 6
TREES = 120
# Categorical features: levels and how strongly they move the odds.
LEVELS = {
    "channel": (7, 0.6),
    "campaign_id": (40, 0.6),
    "creative_id": (120, 0.4),
    "device_class": (4, 0.3),
    "browser_family": (12, 0.2),
    "os_family": (8, 0.2),
    "region": (60, 0.2),
}
TEST_ONLY = {"region": "XX-test-only", "campaign_id": "cmp-test-only"}


def _synthetic(rows: int, seed: int = 0) -> pd.DataFrame:
    """Sessions shaped like ``prepare_features`` output (text categoricals with gaps, float64 numerics with
    NaN) with a learnable label, a ``split`` in time order, and categories that only the test split has."""
    rng = np.random.default_rng(seed)
    logit = np.full(rows, -2.6)
    columns: dict[str, np.ndarray] = {}
    for name, (levels, scale) in LEVELS.items():
        picked = rng.choice(levels, size=rows, p=rng.dirichlet(np.full(levels, 0.7)))
        logit += rng.normal(0.0, scale, size=levels)[picked]
        values = np.array([f"{name[:3]}-{i:03d}" for i in range(levels)], dtype=object)[picked]
        values[rng.random(rows) < 0.03] = None
        columns[name] = values
    prev = rng.poisson(0.8, rows).astype(float)
    prev_conversions = rng.binomial(prev.astype(int), 0.15).astype(float)
    pageviews = 1 + rng.poisson(2.5, rows).astype(float)
    clicks = rng.binomial(pageviews.astype(int), 0.3).astype(float)
    duration = np.where(pageviews > 1, rng.gamma(2.0, 60.0, rows) * pageviews, 0.0)
    duration[rng.random(rows) < 0.05] = np.nan
    depth = rng.integers(0, 4, rows).astype(float)
    depth[rng.random(rows) < 0.02] = np.nan
    days = np.where(prev > 0, rng.exponential(5.0, rows), np.nan)
    hour = rng.integers(0, 24, rows).astype(float)
    logit += (
        0.5 * np.sin(hour / 24 * 2 * np.pi)
        + 0.35 * np.log1p(pageviews)
        + 0.25 * np.minimum(clicks, 4)
        + 0.5 * (prev > 0)
        + 0.9 * (prev_conversions > 0)
        + np.where(np.isnan(days), 0.0, -0.05 * np.minimum(days, 20))
        + np.where(np.isnan(duration), -0.2, 0.001 * np.minimum(duration, 600))
        - 0.2 * np.nan_to_num(depth)
    )
    columns.update(
        hour=hour,
        weekday=rng.integers(0, 7, rows).astype(float),
        is_returning=(prev > 0).astype(float),
        prev_sessions=prev,
        prev_conversions=prev_conversions,
        days_since_last_session=days,
        pageviews=pageviews,
        clicks=clicks,
        duration_s=duration,
        landing_path_depth=depth,
    )
    frame = pd.DataFrame({name: columns[name] for name in FEATURES})
    frame["converted"] = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype("int64")
    position = np.arange(rows) / rows
    frame["split"] = np.where(position < 0.7, "train", np.where(position < 0.85, "valid", "test"))
    test_rows = np.flatnonzero(frame["split"] == "test")
    for column, value in TEST_ONLY.items():
        frame.loc[rng.choice(test_rows, size=len(test_rows) // 30, replace=False), column] = value
    return frame


def _write_training_set(frame: pd.DataFrame, folder: Path, seed: int = 1) -> Path:
    """``folder/data/part-*.parquet`` as the Dask engine writes them (rows of every split in every file);
    even files store the categoricals as dictionaries with their own categories in a shuffled order, odd
    files as plain strings."""
    rng = np.random.default_rng(seed)
    data = folder / "data"
    data.mkdir(parents=True)
    for number, rows in enumerate(np.array_split(rng.permutation(len(frame)), PARTS)):
        part = frame.iloc[np.sort(rows)].reset_index(drop=True)
        if number % 2 == 0:
            for column in CATEGORICAL_FEATURES:
                own = np.array(part[column].dropna().unique(), dtype=object)
                rng.shuffle(own)
                part[column] = pd.Categorical(part[column], categories=own)
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), data / f"part-{number:05d}.parquet")
    return folder


def _load_locally(folder: Path) -> pd.DataFrame:
    """The training set read into one frame and normalized the way ``features.dataset.load_dataset`` does."""
    frames = [pq.read_table(path).to_pandas() for path in sorted((folder / "data").glob("part-*.parquet"))]
    frame = pd.concat([f.astype(dict.fromkeys(CATEGORICAL_FEATURES, "object")) for f in frames], ignore_index=True)
    for column in CATEGORICAL_FEATURES:
        frame[column] = as_category(frame[column])
    frame["split"] = frame["split"].astype("str")
    return frame


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """One LocalCluster (2 worker processes, 1 thread each, loopback only) for the module."""
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


@pytest.fixture(scope="module")
def training_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_training_set(_synthetic(ROWS), tmp_path_factory.mktemp("training-set"))


@pytest.fixture(scope="module")
def local_frame(training_set: Path) -> pd.DataFrame:
    return _load_locally(training_set)


@pytest.fixture(scope="module")
def fitted(client: Client, training_set: Path) -> DaskFitResult:
    params = ConversionModel(n_estimators=TREES, n_jobs=1).lgbm_params(FEATURES)
    train = dask_frame_from_dataset(training_set, "train", FEATURES)
    valid = dask_frame_from_dataset(training_set, "valid", FEATURES)
    return fit_dask_booster(client, train, "converted", FEATURES, params, valid=valid)


def _split(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    return frame.loc[frame["split"] == name]


# without a cluster ------------------------------------------------------------------------------------------
def test_align_categories_gives_the_same_codes_whatever_the_input_stores() -> None:
    categories = {"c": ["a", "b", "c"]}
    as_text = pd.DataFrame({"c": ["c", "a", None, "new"], "x": [1.0, 2.0, 3.0, 4.0]})
    reordered = as_text.assign(c=pd.Categorical(as_text["c"], categories=["new", "c", "a"]))

    for frame in (as_text, reordered):
        aligned = align_categories(frame, categories)
        assert list(aligned["c"].cat.categories) == ["a", "b", "c"]
        assert aligned["c"].cat.codes.tolist() == [2, 0, -1, -1]  # unseen "new" is missing, like None
        assert aligned["x"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert not isinstance(as_text["c"].dtype, pd.CategoricalDtype)  # the input is left alone
    assert align_categories(as_text, {"absent": ["a"]}).equals(as_text)


def test_best_iteration_of_replays_lightgbms_early_stopping() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 5))
    y = (rng.random(4000) < 1 / (1 + np.exp(-x[:, 0] - 0.5 * x[:, 1]))).astype(int)
    params = {"objective": "binary", "learning_rate": 0.3, "num_leaves": 63, "verbosity": -1, "num_threads": 1}
    train, valid = lgb.Dataset(x[:3000], y[:3000]), lgb.Dataset(x[3000:], y[3000:])
    curve: dict[str, dict[str, list[float]]] = {}
    lgb.train(params, train, 80, valid_sets=[valid], callbacks=[lgb.record_evaluation(curve)])
    losses = curve["valid_0"]["binary_logloss"]
    for rounds in (5, 10, 30):
        stopped = lgb.train(
            params, train, 80, valid_sets=[valid], callbacks=[lgb.early_stopping(rounds, verbose=False)]
        )
        assert best_iteration_of(losses, rounds) == stopped.best_iteration < 80
    assert best_iteration_of([3.0, 2.0, 2.0, 2.5, 1.0], 2) == 2  # ties are no improvement
    assert best_iteration_of([3.0, 2.0, 2.0, 2.5, 1.0], 0) == 5  # 0 rounds: the best of the whole curve


# on the cluster -----------------------------------------------------------------------------------------------
def test_a_split_is_read_file_by_file_with_plain_text_categories(
    client: Client, training_set: Path, local_frame: pd.DataFrame
) -> None:
    test = dask_frame_from_dataset(training_set, "test", FEATURES)

    assert test.npartitions == PARTS
    assert list(test.columns) == [*FEATURES, "converted"]
    rows = test.compute()
    expected = _split(local_frame, "test")
    assert len(rows) == len(expected)
    for column in FEATURES:
        dtype = rows[column].dtype
        assert (dtype == "float64") if column not in CATEGORICAL_FEATURES else pd.api.types.is_string_dtype(dtype)
    key = ["pageviews", "duration_s", "hour", "creative_id", "region", "prev_sessions", "campaign_id"]
    ordered = rows.astype(dict.fromkeys(CATEGORICAL_FEATURES, "object")).sort_values(key).reset_index(drop=True)
    reference = expected.astype(dict.fromkeys(CATEGORICAL_FEATURES, "object")).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(ordered[[*FEATURES, "converted"]], reference[[*FEATURES, "converted"]])
    with pytest.raises(InvalidInput, match="lacks the columns"):
        dask_frame_from_dataset(training_set, "test", [*FEATURES, "no_such_feature"])
    with pytest.raises(InvalidInput, match="unknown split"):
        dask_frame_from_dataset(training_set, "holdout", FEATURES)


def test_the_dask_booster_scores_as_well_as_the_local_model(fitted: DaskFitResult, local_frame: pd.DataFrame) -> None:
    train, test = _split(local_frame, "train"), _split(local_frame, "test")
    local = ConversionModel(n_estimators=TREES, n_jobs=1).fit(train[FEATURES], train["converted"])
    auc_local = roc_auc_score(test["converted"], local.predict_proba(test[FEATURES])[:, 1])
    test_input = align_categories(test[FEATURES], fitted.categories)  # test-only categories become missing
    auc_dask = roc_auc_score(test["converted"], fitted.booster.predict(test_input, num_iteration=TREES))

    assert auc_local > 0.7
    assert abs(auc_dask - auc_local) <= 0.005, (auc_dask, auc_local)
    assert fitted.n_estimators == TREES and fitted.workers == 2 and fitted.train_rows == len(train)
    assert fitted.categories == {
        c: sorted(set(local_frame.loc[local_frame["split"] != "test", c].dropna().astype(str)))
        for c in CATEGORICAL_FEATURES
    }
    assert fitted.timings.fit_s > 0 and fitted.timings.total_s >= fitted.timings.fit_s


def test_categories_never_seen_in_training_are_scored_as_missing(fitted: DaskFitResult) -> None:
    sessions = pd.DataFrame(
        {name: [np.nan] * 3 if name not in CATEGORICAL_FEATURES else ["cha-001"] * 3 for name in FEATURES}
    )
    sessions["campaign_id"] = ["cmp-never-seen", None, "cmp-002"]
    sessions["region"] = pd.Categorical(["XX-nowhere", None, "reg-001"])  # categories of its own

    scores = fitted.predict(sessions)

    assert np.all((scores > 0) & (scores < 1))
    assert scores[0] == pytest.approx(fitted.predict(sessions.iloc[[1]])[0])  # unseen = missing
    with pytest.raises(InvalidInput, match="lacks the features"):
        fitted.predict(sessions.drop(columns="region"))


def test_partitions_with_different_categories_get_one_mapping(client: Client) -> None:
    rng = np.random.default_rng(5)

    def part(categories: list[str], size: int) -> pd.DataFrame:
        kind = rng.choice(["always", "never", "sometimes"], size=size)
        converted = np.where(kind == "always", 1, np.where(kind == "never", 0, rng.random(size) < 0.5))
        return pd.DataFrame(
            {"kind": pd.Categorical(kind, categories=categories), "noise": rng.normal(size=size), "y": converted}
        )

    parts = [part(["always", "never", "sometimes"], 1500), part(["sometimes", "never", "always"], 1500)]
    parts.append(part(["never", "always", "sometimes", "unused"], 1500))
    meta = parts[0].iloc[:0]
    train = dd.from_delayed([delayed(p) for p in parts], meta=meta, verify_meta=False)
    params = {"objective": "binary", "n_estimators": 20, "learning_rate": 0.3, "min_child_samples": 20}

    result = fit_dask_booster(client, train, "y", ["kind", "noise"], params)

    assert result.categories == {"kind": ["always", "never", "sometimes"]}  # the values present, sorted
    scores = result.predict(pd.DataFrame({"kind": ["always", "never", "sometimes"], "noise": 0.0}))
    assert scores[0] > 0.9 and scores[1] < 0.1 and 0.3 < scores[2] < 0.7


def test_every_row_reaches_lightgbm_when_dask_fuses_small_files(client: Client, tmp_path: Path) -> None:
    """Reading only some of a file's columns makes dask-expr fuse small files into fewer partitions when the
    graph is optimized (a real training set's files hold more columns than the features), so the frame's
    ``npartitions`` no longer counts the partitions that are computed; LightGBM must still get every row
    exactly once. (Mixing the two once handed LightGBM the first half of the files only.)"""
    rng = np.random.default_rng(11)
    files, rows = 12, 300
    data = tmp_path / "data"
    data.mkdir()
    for number in range(files):
        x = rng.random(rows) * 12
        part = pd.DataFrame(
            {
                "x": x,
                "converted": (rng.random(rows) < np.where(np.floor(x) % 2, 0.9, 0.1)).astype("int64"),
                "split": "train",
                **{f"unused_{i}": rng.normal(size=rows) for i in range(4)},
            }
        )
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), data / f"part-{number:05d}.parquet")
    train = dask_frame_from_dataset(tmp_path, "train", ["x"])
    assert len(train.to_delayed()) < train.npartitions == files  # the files really are fused when computed

    params = {"n_estimators": 5, "learning_rate": 0.3, "min_child_samples": 20}
    result = fit_dask_booster(client, train, "converted", ["x"], params)

    assert result.train_rows == files * rows and result.workers == 2
    trees = result.booster.dump_model()["tree_info"]
    assert [tree["tree_structure"]["internal_count"] for tree in trees] == [files * rows] * 5  # rows trained on
    scores = result.predict(pd.DataFrame({"x": np.arange(12) + 0.5}))
    assert np.all(scores[1::2] > 0.6) and np.all(scores[::2] < 0.4), np.round(scores, 2)


def test_early_stopping_is_replayed_on_the_whole_validation_set(
    client: Client, training_set: Path, local_frame: pd.DataFrame
) -> None:
    params = ConversionModel(n_estimators=60, learning_rate=0.3, num_leaves=63, n_jobs=1).lgbm_params(FEATURES)
    train = dask_frame_from_dataset(training_set, "train", FEATURES)
    valid = dask_frame_from_dataset(training_set, "valid", FEATURES)

    result = fit_dask_booster(client, train, "converted", FEATURES, params, valid=valid, early_stopping_rounds=10)

    assert result.valid_logloss is not None and len(result.valid_logloss) == 60
    assert result.best_iteration == best_iteration_of(result.valid_logloss, 10) < 60
    local_valid = _split(local_frame, "valid")
    aligned = align_categories(local_valid[FEATURES], result.categories)
    for iteration in (1, result.best_iteration, 60):
        expected = log_loss(local_valid["converted"], result.booster.predict(aligned, num_iteration=iteration))
        assert result.valid_logloss[iteration - 1] == pytest.approx(expected, rel=1e-9)
    assert result.booster.best_iteration == result.best_iteration
    np.testing.assert_allclose(result.predict(local_valid), result.booster.predict(aligned))
    again = validation_losses(client, result.booster, valid, "converted", FEATURES, result.categories)
    assert again == pytest.approx(result.valid_logloss, rel=1e-12)  # all trees, despite best_iteration


def test_a_training_set_without_conversions_is_a_clear_error(client: Client) -> None:
    frame = pd.DataFrame({"x": np.arange(200.0), "y": 0})
    with pytest.raises(InvalidInput, match="needs 2 classes"):
        fit_dask_booster(client, dd.from_pandas(frame, npartitions=2), "y", ["x"], {"n_estimators": 5})
