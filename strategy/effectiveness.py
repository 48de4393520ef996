"""Campaign effectiveness: rates, value, CPA and ROAS with intervals per group, and honest comparisons.

Input is a session frame (``features.session_schema``; a conversion is the session's ``converted`` flag,
its value ``conversion_value``) and optionally a spend frame (``date``, ``campaign_id``, ``channel``,
``spend``). Output is aggregates only: no session or visitor identifier leaves this module (privacy P11).

**Comparisons.** Creatives are compared within each campaign and campaigns within each channel. In each
group the *reference* is the arm with the highest posterior mean conversion rate (Beta(1, 1) prior; ties
go to the arm with more sessions) and every other arm is compared with it: lift ``p_arm / p_ref − 1`` with
a fixed-sample (Katz log-ratio) interval and an always-valid interval (``models.intervals``), the
Bayesian chance that the arm beats the reference, a two-sided p-value (pooled z test, Fisher's exact test
for small counts) and a Benjamini–Hochberg q-value over *all* comparisons in the report.

**Decision rule** (``DECISION_RULE``). An arm is a *loser* only when both arms have at least
``min_sessions`` sessions, its q-value is below α = 1 − confidence **and** its always-valid lift interval
lies below zero. The always-valid interval keeps the call honest when the report is read every day, the
q-value across many comparisons; requiring both also keeps the choice of the observed best arm as the
reference from calling winners among equal arms (``tests/models/test_effectiveness.py`` measures it).
The reference is the *winner* only when every other arm of its group is a loser. Otherwise the verdict is
"no detectable difference" when both arms already have the sessions that the always-valid interval needs
to detect a ``minimum_detectable_effect`` relative change with 80 % power, and "not enough data yet
(≈N more sessions needed)" with that shortfall when they do not.

**Pre-period history (CUPED).** Where sessions carry the visitor's earlier sessions and conversions
(``prev_sessions``, ``prev_conversions``), each comparison family is adjusted with them
(``strategy.effectiveness_cuped``): lifts, both intervals, the z test and the sessions still needed use the
adjusted rates and their smaller variance, and ``variance_reduction`` says which share of the noise the
history removed (0, and the figures above unchanged, without such history). The reference is still chosen
on raw rates; the chance to beat it and Fisher's exact test (small counts) stay on raw counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InvalidInput
from features.channels import classify_channel
from models import intervals
from strategy import effectiveness_cuped as cuped

GROUPINGS: tuple[str, ...] = ("campaign", "creative", "channel", "segment")
SEGMENT_KINDS: tuple[str, ...] = ("device", "visitor", "region")
WINNER, LOSER, NO_DIFFERENCE = "winner", "loser", "no detectable difference"
SRM_ALPHA = 0.001
POWER = 0.8
DECISION_RULE = (
    "An arm (a creative of a campaign, or a campaign of a channel) is a loser only when it and the best arm of "
    "its group both have at least {min_sessions} sessions, its false-alarm risk (Benjamini-Hochberg q-value, "
    "within its test) is below {alpha:g} and its lift range that is safe to check daily (always-valid "
    "interval) lies below zero; the best arm (the highest conversion rate, counted with one extra conversion "
    "and one extra non-conversion) is the winner only when every other arm of its group is a loser. "
    "Otherwise: 'no detectable difference' once both arms have the sessions needed to detect a {mde:.0%} "
    "relative change 4 times out of 5, else 'not enough data yet'."
)
_METRICS = ("conversion_rate", "value", "cpa", "roas")


@dataclass(frozen=True)
class EffectivenessReport:
    """Per-group metrics, comparisons and warnings; ``to_dict()`` is JSON-ready (no NaN, no numpy types).

    In ``to_dict()`` each ``<metric>_low``/``<metric>_high`` pair becomes ``<metric>_interval: [low, high]``;
    a bound that does not exist (the upper CPA bound with no conversion) is ``null``.
    """

    by: str
    confidence: float
    minimum_detectable_effect: float
    min_sessions: int
    totals: dict[str, Any]
    rows: pd.DataFrame
    comparisons: pd.DataFrame
    sample_ratio_checks: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON types."""
        alpha = 1 - self.confidence
        return {
            "by": self.by,
            "confidence": self.confidence,
            "minimum_detectable_effect": self.minimum_detectable_effect,
            "decision_rule": DECISION_RULE.format(
                min_sessions=self.min_sessions, alpha=round(alpha, 6), mde=self.minimum_detectable_effect
            ),
            "totals": _record(self.totals),
            "rows": [_record(_str_keys(r)) for r in self.rows.to_dict("records")],
            "comparisons": [_record(_str_keys(r)) for r in self.comparisons.to_dict("records")],
            "sample_ratio_checks": [_record(c) for c in self.sample_ratio_checks],
            "warnings": list(self.warnings),
        }


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy → Python, NaN/inf/NA → None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def _str_keys(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in row.items()}


def _record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with ``x_low``/``x_high`` pairs folded into ``x_interval``."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key.endswith("_high") and f"{key[:-5]}_low" in row:
            continue
        if key.endswith("_low") and f"{key[:-4]}_high" in row:
            out[f"{key[:-4]}_interval"] = [_plain(value), _plain(row[f"{key[:-4]}_high"])]
        else:
            out[key] = _plain(value)
    return out


def validate_planned_splits(planned: Any) -> dict[str, dict[str, float]]:
    """``{campaign_id: {creative_id: share}}`` with two or more positive, finite shares per campaign
    (weights: normalized later), or ``InvalidInput`` saying what is wrong."""
    if not isinstance(planned, Mapping) or not planned:
        raise InvalidInput('a planned split must be an object like {"campaign": {"creative-a": 0.5, ...}}')
    result: dict[str, dict[str, float]] = {}
    for campaign, shares in planned.items():
        if not isinstance(shares, Mapping) or len(shares) < 2:
            raise InvalidInput(f"planned split of campaign {campaign!r}: need an object with two creatives or more")
        clean: dict[str, float] = {}
        for creative, share in shares.items():
            if isinstance(share, bool) or not isinstance(share, int | float) or not math.isfinite(share) or share <= 0:
                raise InvalidInput(
                    f"planned split of campaign {campaign!r}: share of {creative!r} must be a positive number"
                )
            clean[str(creative)] = float(share)
        result[str(campaign)] = clean
    return result


def _prepared(sessions: pd.DataFrame) -> pd.DataFrame:
    """The columns the report needs, one row per session (no identifiers)."""
    missing = {"converted", "conversion_value"} - set(sessions.columns)
    if missing:
        raise InvalidInput(f"sessions lack columns {sorted(missing)}")

    def column(name: str) -> pd.Series:
        if name in sessions:
            return sessions[name].astype("category")  # fast to group, whatever the string dtype
        return pd.Series(None, index=sessions.index, dtype="category")

    value = pd.to_numeric(sessions["conversion_value"], errors="coerce").fillna(0.0).astype(float)
    converted = sessions["converted"].fillna(False).astype(bool)
    value = value.where(converted, 0.0)
    prev = pd.to_numeric(sessions["prev_sessions"], errors="coerce") if "prev_sessions" in sessions else None
    codes = np.full(len(sessions), 2) if prev is None else np.where(prev.isna(), 2, np.where(prev == 0, 0, 1))
    visitor = pd.Categorical.from_codes(codes.astype(np.int8), categories=pd.Index(["new", "returning", "unknown"]))
    tags = [sessions.get(name) for name in ("utm_source", "utm_medium", "referrer_host")]
    channel = (
        classify_channel(*tags).astype("category")
        if any(tag is not None for tag in tags)
        else pd.Series("direct", index=sessions.index, dtype="category")  # no tag, no referrer: direct traffic
    )
    history = cuped.covariate_columns(sessions)
    return pd.DataFrame(
        {
            "campaign_id": column("campaign_id"),
            "creative_id": column("creative_id"),
            "channel": channel,
            "device": _filled(column("device_class")),
            "visitor": visitor,
            "region": _filled(column("region")),
            "converted": converted.astype(np.int64).to_numpy(),
            "value": value.to_numpy(),
            "value_sq": (value**2).to_numpy(),
            **history,
        },
        index=sessions.index,
    )


def _filled(values: pd.Series) -> pd.Series:
    """A categorical column with missing values as ``"unknown"``."""
    if "unknown" not in values.cat.categories:
        values = values.cat.add_categories("unknown")
    return values.fillna("unknown")


def _counts(data: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sessions, conversions, value and squared value per group of ``keys`` (missing keys kept as None)."""
    grouped = data.groupby(keys, dropna=False, sort=True, observed=True)
    counts = grouped.agg(
        sessions=("converted", "size"),
        conversions=("converted", "sum"),
        value=("value", "sum"),
        value_sq=("value_sq", "sum"),
        value_max=("value", "max"),
    ).reset_index()
    for key in keys:
        counts[key] = counts[key].astype(object).where(counts[key].notna(), None)
    return counts


def _with_metrics(frame: pd.DataFrame, confidence: float, pool: tuple[float, float]) -> pd.DataFrame:
    """Add rates, value, CPA and ROAS with their intervals (``spend`` NaN where unknown).

    ``pool`` is the mean and mean square of every conversion's value in the report: the value intervals
    pool the skewness of values across groups (``intervals.pooled_sum_of_squares``), and the mean value
    is the floor of a group's largest value (Fay–Feuer's ``max_value``).
    """
    frame = frame.copy()
    n = frame["sessions"].to_numpy(float)
    x = frame["conversions"].to_numpy(float)
    spend = frame["spend"].to_numpy(float)
    value = frame["value"].to_numpy(float)
    squares = frame.pop("value_sq").to_numpy(float)
    largest = frame.pop("value_max").to_numpy(float)
    largest = np.fmax(np.nan_to_num(largest), pool[0])
    squares = intervals.pooled_sum_of_squares(squares, x, pool[1])
    out = frame.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["conversion_rate"] = np.where(n > 0, x / n, np.nan)
        out["conversion_rate_low"], out["conversion_rate_high"] = intervals.wilson_interval(x, n, confidence)
        out.loc[n == 0, ["conversion_rate_low", "conversion_rate_high"]] = np.nan
        out["value_low"], out["value_high"] = intervals.value_interval(value, squares, largest, confidence)
        has_spend = np.isfinite(spend) & (spend > 0)
        cpa_low, cpa_high = intervals.cpa_interval(spend, x, confidence)
        out["cpa"] = np.where(has_spend & (x > 0), spend / x, np.nan)
        out["cpa_low"] = np.where(has_spend, cpa_low, np.nan)
        out["cpa_high"] = np.where(has_spend, cpa_high, np.nan)
        roas_low, roas_high = intervals.roas_interval(spend, value, squares, largest, confidence)
        out["roas"] = np.where(has_spend, value / spend, np.nan)
        out["roas_low"] = np.where(has_spend, roas_low, np.nan)
        out["roas_high"] = np.where(has_spend, roas_high, np.nan)
    keys = list(frame.columns[: list(frame.columns).index("sessions")])
    metrics = [f"{m}{suffix}" for m in _METRICS for suffix in ("", "_low", "_high")]
    return out[[*keys, "sessions", "conversions", *metrics[:6], "spend", *metrics[6:]]]


def _value_pool(data: pd.DataFrame) -> tuple[float, float]:
    """Mean and mean square of the value of a conversion, over every conversion (0 without any)."""
    conversions = int(data["converted"].sum())
    if conversions == 0:
        return 0.0, 0.0
    return float(data["value"].sum()) / conversions, float(data["value_sq"].sum()) / conversions


def _campaign_channels(data: pd.DataFrame, spend: pd.DataFrame) -> dict[str, str]:
    """Each campaign's channel: the most common channel of its sessions, else the channel its spend names."""
    channels: dict[str, str] = {}
    if not spend.empty and "channel" in spend:
        named = spend.dropna(subset=["channel"]).drop_duplicates("campaign_id", keep="last")
        channels.update(dict(zip(named["campaign_id"].astype(str), named["channel"].astype(str), strict=True)))
    tagged = data.dropna(subset=["campaign_id"])
    if not tagged.empty:
        sizes = (
            tagged.groupby(["campaign_id", "channel"], observed=True).size().sort_values(ascending=False, kind="stable")
        )
        top = sizes.reset_index().drop_duplicates("campaign_id")
        channels.update(dict(zip(top["campaign_id"].astype(str), top["channel"].astype(str), strict=True)))
    return channels


def _rows(
    data: pd.DataFrame, spend: pd.DataFrame, by: str, confidence: float, channels: dict[str, str]
) -> pd.DataFrame:
    """One row per group of ``by`` with counts, spend and metrics."""
    pool = _value_pool(data)
    if by == "segment":
        parts = []
        for kind in SEGMENT_KINDS:
            counts = _counts(data, [kind]).rename(columns={kind: "value_label"})
            parts.append(counts.assign(segment=kind))
        rows = pd.concat(parts, ignore_index=True).rename(columns={"value_label": "segment_value"})
        rows = rows[["segment", "segment_value", "sessions", "conversions", "value", "value_sq", "value_max"]]
        return _with_metrics(rows.assign(spend=np.nan), confidence, pool)
    if by == "creative":
        rows = _counts(data, ["campaign_id", "creative_id"])
        if "creative_id" in spend and not spend.empty:
            per = spend.groupby(["campaign_id", "creative_id"])["spend"].sum().rename("spend").reset_index()
            rows = rows.merge(per, on=["campaign_id", "creative_id"], how="left")
        else:
            rows["spend"] = np.nan
        return _with_metrics(rows, confidence, pool)
    if by == "campaign":
        rows = _counts(data, ["campaign_id"])
        per = spend.groupby("campaign_id")["spend"].sum().rename("spend").reset_index()
        per["campaign_id"] = per["campaign_id"].astype(object)
        rows = rows.merge(per, on="campaign_id", how="outer")
        rows.insert(1, "channel", [channels.get(c) if c is not None else None for c in rows["campaign_id"]])
    else:
        rows = _counts(data, ["channel"])
        spend_channel = spend["channel"].astype(object) if "channel" in spend else pd.Series(None, index=spend.index)
        filled = spend_channel.where(spend_channel.notna(), spend["campaign_id"].astype(object).map(channels))
        per_channel = spend.assign(channel=filled.fillna("unknown")).groupby("channel")["spend"].sum()
        per = per_channel.rename("spend").reset_index().astype({"channel": object})
        rows = rows.merge(per, on="channel", how="outer")
    rows[["sessions", "conversions"]] = rows[["sessions", "conversions"]].fillna(0).astype(np.int64)
    rows[["value", "value_sq", "value_max"]] = rows[["value", "value_sq", "value_max"]].fillna(0.0)
    rows = rows.sort_values(rows.columns[0], key=lambda s: s.isna(), kind="stable").reset_index(drop=True)
    return _with_metrics(rows, confidence, pool)


def _verdict_text(verdict: str, more: float) -> str:
    if verdict != "more":
        return verdict
    if not math.isfinite(more):
        return "not enough data yet (conversions too rare to compare)"
    return f"not enough data yet (≈{_rounded(more):,} more sessions needed)"


def _rounded(value: float) -> int:
    """``value`` to two significant figures (the "≈N" of a verdict)."""
    if value < 100:
        return math.ceil(value)
    digits = math.floor(math.log10(value)) - 1
    return int(math.ceil(value / 10**digits) * 10**digits)


def _compare_family(data: pd.DataFrame, group_key: str, arm_key: str, family: str) -> pd.DataFrame:
    """Sessions and conversions per arm of each group with two arms or more, the reference marked."""
    counts = _counts(data.dropna(subset=[group_key, arm_key]), [group_key, arm_key])
    counts = counts.rename(columns={group_key: "group", arm_key: "arm"})
    counts = counts[counts.groupby("group")["arm"].transform("size") >= 2].copy()
    counts["posterior"] = (counts["conversions"] + 1) / (counts["sessions"] + 2)
    counts = counts.sort_values(["group", "posterior", "sessions"], ascending=[True, False, False], kind="stable")
    counts["is_reference"] = ~counts["group"].duplicated()
    counts["reference"] = counts.groupby("group")["arm"].transform("first")
    counts.insert(0, "comparison", family)
    counts = counts.merge(cuped.arm_adjustments(data, group_key, arm_key), on=["group", "arm"], how="left")
    counts = counts.fillna({"shift": 0.0, "variance_ratio": 1.0, "family_variance_reduction": 0.0})
    return counts.drop(columns=["posterior", "value", "value_sq", "value_max"]).reset_index(drop=True)


def _comparisons(
    data: pd.DataFrame,
    channels: dict[str, str],
    confidence: float,
    mde: float,
    min_sessions: int,
    target_sessions: float,
) -> pd.DataFrame:
    """Every arm against its group's reference, with q-values and verdicts.

    A campaign belongs to one channel (``channels``), so all its sessions count in that channel's group. The
    p-values are adjusted (Benjamini-Hochberg) within each family: the arms of one test (the creatives of one
    campaign, the campaigns of one channel), never pooled with unrelated tests of the same report.
    """
    alpha = 1 - confidence
    by_campaign_channel = data.assign(channel=data["campaign_id"].map(channels))
    arms = pd.concat(
        [
            _compare_family(data, "campaign_id", "creative_id", "creative"),
            _compare_family(by_campaign_channel, "channel", "campaign_id", "campaign"),
        ],
        ignore_index=True,
    )
    if arms.empty:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    columns = ["sessions", "conversions", "shift", "variance_ratio"]
    ref = arms.groupby(["comparison", "group"])[columns].transform("first")
    n_b, x_b = arms["sessions"].to_numpy(float), arms["conversions"].to_numpy(float)
    n_a, x_a = ref["sessions"].to_numpy(float), ref["conversions"].to_numpy(float)
    challenger = ~arms["is_reference"].to_numpy()
    rho = intervals.mixing_rho(target_sessions, alpha)
    out = arms.copy()
    out["conversion_rate"] = x_b / np.maximum(n_b, 1)
    out["conversion_rate_low"], out["conversion_rate_high"] = intervals.wilson_interval(x_b, n_b, confidence)
    figures = cuped.adjusted_comparisons(
        (x_a, n_a),
        (x_b, n_b),
        (ref["shift"], ref["variance_ratio"]),
        (arms["shift"], arms["variance_ratio"]),
        confidence=confidence,
        rho=rho,
    )
    for name in ("lift", "lift_low", "lift_high", "always_valid_lift_low", "always_valid_lift_high", "p_value"):
        out[name] = np.where(challenger, figures[name], np.nan)
    out["chance_to_beat_reference"] = np.where(challenger, intervals.chance_to_beat(x_a, n_a, x_b, n_b), np.nan)
    adjusted = pd.Series(challenger & (figures["variance_reduction"] != 0), index=out.index)
    any_adjusted = adjusted.groupby([out["comparison"], out["group"]]).transform("any").to_numpy(bool)
    family_share = np.where(any_adjusted, arms["family_variance_reduction"].to_numpy(float), 0.0)
    out["variance_reduction"] = np.where(challenger, figures["variance_reduction"], family_share)
    out["family"] = np.where(out["comparison"] == "creative", "creatives of campaign ", "campaigns of channel ")
    out["family"] = out["family"] + out["group"].astype(str)
    q_values, p_values = np.full(len(out), np.nan), out["p_value"].to_numpy()
    for positions in out.groupby("family", sort=False).indices.values():
        q_values[positions] = intervals.benjamini_hochberg(p_values[positions])
    out["q_value"] = q_values
    p_ref = (x_a + 0.5) / (n_a + 1)
    remaining = 1 - out["variance_reduction"].to_numpy(float)  # 1 − R²: the noise the history leaves
    need = np.maximum(
        intervals.sessions_per_arm(p_ref, -mde, alpha, POWER, sequential=True, rho=rho) * remaining,
        float(min_sessions),
    )
    short = np.maximum(need - n_b, 0) + np.maximum(need - n_a, 0)
    enough = (n_a >= min_sessions) & (n_b >= min_sessions)
    significant = enough & (out["q_value"].to_numpy() < alpha)
    below = significant & (out["always_valid_lift_high"].to_numpy() < 0)
    above = significant & (out["always_valid_lift_low"].to_numpy() > 0)
    verdict = np.select([below, above, short <= 0], [LOSER, WINNER, NO_DIFFERENCE], default="more")
    out["verdict"] = np.where(challenger, verdict, "")
    out["sessions_needed"] = np.where(challenger & (verdict == "more"), short, 0.0)
    out = _reference_verdicts(out, need, n_a)
    out["verdict"] = [_verdict_text(v, m) for v, m in zip(out["verdict"], out["sessions_needed"], strict=True)]
    out["sessions_needed"] = [round(m) if math.isfinite(m) else None for m in out["sessions_needed"]]
    out["sample_ratio_mismatch"] = False
    return out[COMPARISON_COLUMNS]


def _reference_verdicts(out: pd.DataFrame, need: np.ndarray, n_ref: np.ndarray) -> pd.DataFrame:
    """The reference wins when every other arm lost; waits when any comparison waits; else no difference."""
    verdicts = out["verdict"].to_numpy(dtype=object).copy()
    needed = out["sessions_needed"].to_numpy(dtype=float).copy()
    sessions = out["sessions"].to_numpy(dtype=float)
    is_reference = out["is_reference"].to_numpy(dtype=bool)
    keys = out["comparison"] + "\x00" + out["group"].astype(str)
    for positions in out.groupby(keys).indices.values():
        index = np.asarray(positions, dtype=np.int64)
        ref = int(index[is_reference[index]][0])
        others = index[~is_reference[index]]
        waiting = others[verdicts[others] == "more"]
        if (verdicts[others] == WINNER).any():
            verdicts[ref], needed[ref] = LOSER, 0.0
        elif (verdicts[others] == LOSER).all():
            verdicts[ref], needed[ref] = WINNER, 0.0
        elif waiting.size:
            arm_short = float(np.maximum(need[waiting] - sessions[waiting], 0).sum())
            verdicts[ref], needed[ref] = "more", arm_short + max(float(need[waiting].max() - n_ref[ref]), 0.0)
        else:
            verdicts[ref], needed[ref] = NO_DIFFERENCE, 0.0
    return out.assign(verdict=verdicts, sessions_needed=needed)


COMPARISON_COLUMNS = [
    "comparison",
    "group",
    "arm",
    "reference",
    "is_reference",
    "sessions",
    "conversions",
    "conversion_rate",
    "conversion_rate_low",
    "conversion_rate_high",
    "lift",
    "lift_low",
    "lift_high",
    "always_valid_lift_low",
    "always_valid_lift_high",
    "chance_to_beat_reference",
    "p_value",
    "q_value",
    "family",
    "verdict",
    "sessions_needed",
    "sample_ratio_mismatch",
    "variance_reduction",
]


def _sample_ratio_checks(
    data: pd.DataFrame, planned: dict[str, dict[str, float]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """A chi-square check of each planned split against the sessions each creative received, and warnings."""
    checks: list[dict[str, Any]] = []
    warnings: list[str] = []
    tagged = data.dropna(subset=["campaign_id", "creative_id"])
    observed_all: dict[str, dict[str, int]] = {}
    sizes = tagged.groupby(["campaign_id", "creative_id"], observed=True).size()
    for campaign, creative, size in zip(
        sizes.index.get_level_values(0), sizes.index.get_level_values(1), sizes.to_numpy(), strict=True
    ):
        observed_all.setdefault(str(campaign), {})[str(creative)] = int(size)
    for campaign, shares in sorted(planned.items()):
        observed = observed_all.get(campaign, {})
        if not observed:
            warnings.append(f"planned split for campaign {campaign!r}: no sessions of it in this period")
            continue
        counts = {creative: observed.get(creative, 0) for creative in shares}
        unplanned = {k: v for k, v in observed.items() if k not in shares}
        p_value = intervals.sample_ratio_p_value(list(counts.values()), list(shares.values()))
        total = sum(shares.values())
        mismatch = p_value < SRM_ALPHA or bool(unplanned)
        checks.append(
            {
                "campaign_id": campaign,
                "observed_sessions": counts,
                "planned_shares": {k: v / total for k, v in shares.items()},
                "unplanned_sessions": unplanned,
                "p_value": p_value,
                "mismatch": mismatch,
            }
        )
        if unplanned:
            warnings.append(
                f"campaign {campaign!r}: sessions on creatives outside the planned split {unplanned}; "
                "check the links and the ad set-up"
            )
        if p_value < SRM_ALPHA:
            seen = ", ".join(f"{k} {v:,}" for k, v in counts.items())
            warnings.append(
                f"sample ratio mismatch in campaign {campaign!r}: sessions {seen} do not fit the planned split "
                f"(chi-square p = {p_value:.2g}); its creative comparisons may be biased — check the traffic "
                "split and the tracking before acting on them"
            )
    return checks, warnings


def _totals(data: pd.DataFrame, spend: pd.DataFrame, confidence: float) -> dict[str, Any]:
    frame = pd.DataFrame(
        {
            "sessions": [len(data)],
            "conversions": [int(data["converted"].sum())],
            "value": [float(data["value"].sum())],
            "value_sq": [float(data["value_sq"].sum())],
            "value_max": [float(data["value"].max()) if len(data) else 0.0],
            "spend": [float(spend["spend"].sum()) if not spend.empty else np.nan],
        }
    )
    return _str_keys(_with_metrics(frame, confidence, _value_pool(data)).to_dict("records")[0])


def _spend_frame(spend: pd.DataFrame | None) -> pd.DataFrame:
    if spend is None or spend.empty:
        return pd.DataFrame(
            {
                "campaign_id": pd.Series(dtype=object),
                "channel": pd.Series(dtype=object),
                "spend": pd.Series(dtype=float),
            }
        )
    missing = {"campaign_id", "spend"} - set(spend.columns)
    if missing:
        raise InvalidInput(f"spend lacks columns {sorted(missing)}")
    frame = spend.copy()
    frame["spend"] = pd.to_numeric(frame["spend"], errors="coerce")
    if frame["spend"].isna().any() or (frame["spend"] < 0).any():
        raise InvalidInput("spend must be a non-negative number on every row")
    frame["campaign_id"] = frame["campaign_id"].astype(object)
    return frame


def effectiveness(
    sessions: pd.DataFrame,
    spend: pd.DataFrame | None = None,
    *,
    by: str = "campaign",
    planned_splits: Mapping[str, Mapping[str, float]] | None = None,
    confidence: float = 0.95,
    minimum_detectable_effect: float = 0.2,
    min_sessions: int = 100,
    target_sessions: float = intervals.DEFAULT_TARGET_SESSIONS,
) -> EffectivenessReport:
    """Metrics per ``by`` group (campaign, creative, channel or segment) and the comparisons of creatives
    within campaigns and campaigns within channels, with the verdicts of the module's decision rule.

    ``spend`` rows should cover the same period as ``sessions``; ``planned_splits`` maps a campaign to its
    planned creative shares for the sample-ratio-mismatch check.
    """
    if by not in GROUPINGS:
        raise InvalidInput(f"unknown grouping {by!r}: use one of {', '.join(GROUPINGS)}")
    if not 0.5 <= confidence < 1:
        raise InvalidInput("confidence must be in [0.5, 1)")
    if not 0 < minimum_detectable_effect < 1:
        raise InvalidInput("the minimum detectable effect must be a relative change in (0, 1)")
    planned = validate_planned_splits(planned_splits) if planned_splits is not None else {}
    data = _prepared(sessions)
    spend_frame = _spend_frame(spend)
    channels = _campaign_channels(data, spend_frame)
    rows = _rows(data, spend_frame, by, confidence, channels)
    comparisons = _comparisons(data, channels, confidence, minimum_detectable_effect, min_sessions, target_sessions)
    checks, warnings = _sample_ratio_checks(data, planned)
    suspect = [c["campaign_id"] for c in checks if c["mismatch"]]
    comparisons["sample_ratio_mismatch"] = (comparisons["comparison"] == "creative") & comparisons["group"].isin(
        suspect
    )
    if by in ("campaign", "channel") and spend_frame.empty:
        warnings.insert(0, "no spend recorded for this period: CPA and ROAS are not available")
    if by in ("campaign", "channel"):
        key = rows.columns[0]
        idle = rows[(rows["sessions"] == 0) & (rows["spend"].fillna(0) > 0)]
        for name, amount in zip(idle[key], idle["spend"], strict=True):
            warnings.append(f"{key.removesuffix('_id')} {name!r} spent {amount:,.2f} but brought no session")
    if by == "channel":
        warnings.append("channel CPA and ROAS divide the channel's spend by all its conversions, organic included")
    return EffectivenessReport(
        by=by,
        confidence=confidence,
        minimum_detectable_effect=minimum_detectable_effect,
        min_sessions=min_sessions,
        totals=_totals(data, spend_frame, confidence),
        rows=rows,
        comparisons=comparisons,
        sample_ratio_checks=checks,
        warnings=warnings,
    )
