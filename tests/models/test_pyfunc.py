from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from features.definitions import FEATURE_NAMES, example_session_records, prepare_features
from models.calibration import Calibrator
from models.conversion import ConversionModel
from models.pyfunc import BOOSTER_ARTIFACT, METADATA_ARTIFACT, ConversionPyfunc, ConversionScorer, write_artifacts

TIMEZONE = "Europe/Berlin"
FEATURES = list(FEATURE_NAMES)
MODEL_CODE = Path(__file__).parents[2] / "models" / "mlflow_model_code.py"


def session_records(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Raw session records and an outcome driven by engagement, channel and device."""
    rng = np.random.default_rng(seed)
    medium = rng.choice(["cpc", "email", "paid_social"], n)
    device = rng.choice(["desktop", "mobile"], n)
    pageviews = rng.poisson(3, n).astype(float)
    logit = -3.5 + 0.6 * pageviews + np.where(medium == "email", 1.0, 0.0) + np.where(device == "mobile", -0.8, 0.0)
    records = pd.DataFrame(
        {
            "started_at": pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 30 * 86400, n), "s"),
            "utm_source": np.where(medium == "email", "newsletter", "google"),
            "utm_medium": medium,
            "campaign_id": rng.choice(["spring", "brand"], n),
            "device_class": device,
            "pageviews": pageviews,
            "clicks": rng.poisson(1, n).astype(float),
            "duration_s": rng.exponential(120, n),
            "prev_sessions": rng.poisson(1, n).astype(float),
        }
    )
    return records, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


@pytest.fixture(scope="module")
def trained() -> tuple[ConversionModel, Calibrator]:
    """A model stopped early on validation sessions, and the calibration of a distorted version of it."""
    train, y_train = session_records(4000, 1)
    valid, y_valid = session_records(2000, 2)
    X_train, X_valid = prepare_features(train, TIMEZONE), prepare_features(valid, TIMEZONE)
    model = ConversionModel(n_estimators=150, learning_rate=0.1, early_stopping_rounds=10)
    model.fit(X_train, y_train, eval_set=(X_valid, y_valid))
    assert model.best_iteration_ > 5
    # a deliberately overconfident score, so the calibration visibly changes it
    p_valid = model.predict_proba(X_valid)[:, 1] ** 0.5
    return model, Calibrator("sigmoid").fit(p_valid, y_valid)


def save(folder: Path, model: ConversionModel, calibrator: Calibrator | None) -> dict[str, str]:
    return write_artifacts(
        folder, model.booster_, model.best_iteration_, FEATURES, TIMEZONE, "hash-1", calibrator=calibrator
    )


def test_round_trip_through_artifacts_gives_identical_predictions(
    tmp_path: Path, trained: tuple[ConversionModel, Calibrator]
) -> None:
    model, calibrator = trained
    artifacts = save(tmp_path, model, calibrator)
    scorer = ConversionScorer.from_artifacts(artifacts[BOOSTER_ARTIFACT], artifacts[METADATA_ARTIFACT])
    in_memory = ConversionScorer(model.booster_, model.best_iteration_, FEATURES, TIMEZONE, "hash-1", calibrator)
    records, _ = session_records(500, 3)
    X = prepare_features(records, TIMEZONE)
    assert (scorer.num_iteration, scorer.feature_names, scorer.timezone) == (model.best_iteration_, FEATURES, TIMEZONE)
    assert scorer.features_hash == "hash-1" and scorer.calibrator.method == "sigmoid"
    expected = calibrator.transform(model.predict_proba(X)[:, 1])
    np.testing.assert_array_equal(scorer.predict_features(X), expected)
    np.testing.assert_array_equal(in_memory.predict_features(X), expected)
    np.testing.assert_array_equal(scorer.predict_sessions(records), expected)
    assert json.loads(Path(artifacts[METADATA_ARTIFACT]).read_text())["calibration"] == calibrator.to_dict()


def test_calibration_is_applied_and_contributions_explain_the_raw_log_odds(
    tmp_path: Path, trained: tuple[ConversionModel, Calibrator]
) -> None:
    model, _ = trained
    calibrator = Calibrator.from_dict({"method": "sigmoid", "coef": 0.5, "intercept": -1.0})
    artifacts = save(tmp_path, model, calibrator)
    scorer = ConversionScorer.from_artifacts(Path(artifacts[BOOSTER_ARTIFACT]), Path(artifacts[METADATA_ARTIFACT]))
    X = prepare_features(session_records(300, 4)[0], TIMEZONE)
    raw = model.predict_proba(X)[:, 1]
    raw_logit = np.log(raw / (1 - raw))
    np.testing.assert_allclose(scorer.predict_features(X), 1 / (1 + np.exp(-(0.5 * raw_logit - 1.0))), rtol=1e-9)
    assert np.abs(scorer.predict_features(X) - raw).max() > 0.05
    np.testing.assert_array_equal(scorer.raw_probabilities(X), raw)
    contributions = scorer.contributions(X)
    assert list(contributions.columns) == [*FEATURES, "bias"]
    assert contributions.index.equals(X.index)
    np.testing.assert_allclose(contributions.sum(axis=1), raw_logit, rtol=1e-6, atol=1e-6)


def test_only_the_first_num_iteration_trees_score(tmp_path: Path, trained: tuple[ConversionModel, Calibrator]) -> None:
    model, calibrator = trained
    artifacts = write_artifacts(tmp_path, model.booster_, 5, FEATURES, TIMEZONE, "hash-1", calibrator=calibrator)
    scorer = ConversionScorer.from_artifacts(artifacts[BOOSTER_ARTIFACT], artifacts[METADATA_ARTIFACT])
    in_memory = ConversionScorer(model.booster_, 5, FEATURES, TIMEZONE, "hash-1", calibrator)
    X = prepare_features(session_records(300, 8)[0], TIMEZONE)
    assert scorer.num_iteration == scorer.booster.current_iteration() == 5
    np.testing.assert_array_equal(scorer.predict_features(X), in_memory.predict_features(X))
    assert not np.allclose(scorer.raw_probabilities(X), model.predict_proba(X)[:, 1])


def test_metadata_without_calibration_still_loads(tmp_path: Path, trained: tuple[ConversionModel, Calibrator]) -> None:
    model, _ = trained
    booster_path = tmp_path / "booster.txt"
    model.booster_.save_model(str(booster_path), num_iteration=model.best_iteration_)
    metadata_path = tmp_path / "metadata.json"  # what write_artifacts wrote before calibration existed
    metadata_path.write_text(json.dumps({"feature_names": FEATURES, "timezone": TIMEZONE, "features_hash": "h"}))
    scorer = ConversionScorer.from_artifacts(booster_path, metadata_path)
    assert scorer.calibrator.method == "none"
    assert scorer.num_iteration == model.best_iteration_
    X = prepare_features(session_records(300, 5)[0], TIMEZONE)
    np.testing.assert_array_equal(scorer.predict_features(X), model.predict_proba(X)[:, 1])


def test_write_artifacts_without_a_calibrator_records_none(
    tmp_path: Path, trained: tuple[ConversionModel, Calibrator]
) -> None:
    model, _ = trained
    artifacts = save(tmp_path, model, None)
    metadata = json.loads(Path(artifacts[METADATA_ARTIFACT]).read_text())
    assert metadata["calibration"] == {"method": "none"}
    assert metadata["num_iteration"] == model.best_iteration_


def test_a_frame_without_the_model_features_is_invalid_input(
    tmp_path: Path, trained: tuple[ConversionModel, Calibrator]
) -> None:
    model, calibrator = trained
    artifacts = save(tmp_path, model, calibrator)
    scorer = ConversionScorer.from_artifacts(artifacts[BOOSTER_ARTIFACT], artifacts[METADATA_ARTIFACT])
    X = prepare_features(session_records(10, 6)[0], TIMEZONE)
    with pytest.raises(InvalidInput, match="pageviews"):
        scorer.predict_features(X.drop(columns="pageviews"))


def test_pyfunc_scores_raw_sessions_with_calibration_and_explanations(
    tmp_path: Path, trained: tuple[ConversionModel, Calibrator]
) -> None:
    model, calibrator = trained
    artifacts = save(tmp_path, model, calibrator)
    pyfunc = ConversionPyfunc()
    pyfunc.load_context(SimpleNamespace(artifacts=artifacts))
    records = example_session_records()
    scores = pyfunc.predict(None, records)
    expected = calibrator.transform(model.predict_proba(prepare_features(records, TIMEZONE))[:, 1])
    assert list(scores.columns) == ["probability"]
    np.testing.assert_array_equal(scores["probability"], expected)
    explained = pyfunc.predict(None, records, params={"explain": True})
    assert list(explained.columns) == ["probability", *(f"contrib_{n}" for n in [*FEATURES, "bias"])]
    raw = model.predict_proba(pyfunc.features(records))[:, 1]
    contrib = explained.drop(columns="probability").sum(axis=1)
    np.testing.assert_allclose(contrib, np.log(raw / (1 - raw)), rtol=1e-6, atol=1e-6)


def test_mlflow_loads_the_logged_code_and_scores_calibrated(
    tmp_path: Path, trained: tuple[ConversionModel, Calibrator]
) -> None:
    model, calibrator = trained
    artifacts = save(tmp_path / "artifacts", model, calibrator)
    mlflow.pyfunc.save_model(
        str(tmp_path / "model"), python_model=str(MODEL_CODE), artifacts=artifacts, pip_requirements=["lightgbm"]
    )
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    records = example_session_records()
    expected = calibrator.transform(model.predict_proba(prepare_features(records, TIMEZONE))[:, 1])
    np.testing.assert_array_equal(loaded.predict(records)["probability"], expected)


def _columns(records: pd.DataFrame) -> dict[str, list[object]]:
    """Records as the scoring API hands them over: plain Python values per field, None where missing."""
    values = records.astype(object).where(records.notna(), None)
    columns: dict[str, list[object]] = {name: values[name].tolist() for name in records.columns}
    starts = records["started_at"]
    columns["started_at"] = [None if pd.isna(t) else t.to_pydatetime() for t in starts]
    return columns


def test_column_scoring_gives_exactly_the_pyfunc_scores_and_contributions(
    tmp_path: Path, trained: tuple[ConversionModel, Calibrator]
) -> None:
    model, calibrator = trained
    artifacts = save(tmp_path, model, calibrator)
    scorer = ConversionScorer.from_artifacts(artifacts[BOOSTER_ARTIFACT], artifacts[METADATA_ARTIFACT])
    # more rows than PARALLEL_PREDICT_ROWS: the batch predicts on every core, a single session on one
    records = pd.concat([session_records(2500, 9)[0], example_session_records()], ignore_index=True)
    records.loc[::7, "device_class"] = "smart-fridge"  # never seen in training
    records.loc[::5, "pageviews"] = np.nan
    columns = _columns(records)

    expected = scorer.predict_sessions(records)
    np.testing.assert_array_equal(scorer.predict_columns(columns, len(records)), expected)
    matrix = scorer.feature_matrix(columns, len(records))
    np.testing.assert_array_equal(scorer.predict_matrix(matrix), expected)
    contributions = scorer.contributions(scorer.features(records)).to_numpy()
    np.testing.assert_array_equal(scorer.contributions_matrix(matrix), contributions)
    single = {name: values[3:4] for name, values in columns.items()}
    np.testing.assert_array_equal(scorer.predict_columns(single, 1), expected[3:4])


def test_column_scoring_needs_the_boosters_categories(
    tmp_path: Path, trained: tuple[ConversionModel, Calibrator]
) -> None:
    model, calibrator = trained
    artifacts = save(tmp_path, model, calibrator)
    scorer = ConversionScorer.from_artifacts(artifacts[BOOSTER_ARTIFACT], artifacts[METADATA_ARTIFACT])
    trained_categories = scorer.booster.pandas_categorical
    assert trained_categories is not None
    scorer.booster.pandas_categorical = trained_categories[:-1]
    with pytest.raises(InvalidInput, match="categor"):
        scorer.predict_columns({"pageviews": [1]}, 1)
