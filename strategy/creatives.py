"""Creative recommendations: which creative to run per campaign and audience segment, the traffic split to
test with, an action per creative, and sentences a marketer can act on. Aggregates only (privacy P11)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from core.errors import InvalidInput, NotFound, NotReady
from core.settings import Settings
from core.tenants import Client
from features.channels import classify_channel
from models.creatives import ALL_SEGMENTS, MAX_SESSIONS_NEEDED, CreativeSelector
from strategy.sessions import SessionLoader, load_sessions_with

SegmentBy = Literal["device", "returning", "region", "channel"]
SEGMENT_BYS: tuple[str, ...] = get_args(SegmentBy)
SEGMENT_COLUMN = "_segment"


def segment_values(sessions: pd.DataFrame, segment_by: str) -> pd.Series:
    """Each session's segment: device class, new/returning visitor, region or marketing channel."""
    if segment_by == "device":
        return sessions["device_class"].astype(object)
    if segment_by == "returning":
        prev = pd.to_numeric(sessions["prev_sessions"], errors="coerce")
        return pd.Series(np.where(prev > 0, "returning", "new"), index=sessions.index, dtype=object).where(prev.notna())
    if segment_by == "region":
        return sessions["region"].astype(object)
    if segment_by == "channel":
        present = {c: sessions.get(c) for c in ("utm_source", "utm_medium", "referrer_host")}
        return classify_channel(present["utm_source"], present["utm_medium"], present["referrer_host"]).astype(object)
    raise InvalidInput(f"unknown segment {segment_by!r}: use one of {', '.join(SEGMENT_BYS)}")


def _where(segment_by: str, segment: str) -> str:
    if segment == ALL_SEGMENTS:
        return "overall"
    if segment_by == "returning":
        return f"for {segment} visitors"
    if segment_by == "region":
        return f"in {segment}"
    if segment_by == "channel":
        return f"from {segment}"
    return f"on {segment}"


def _count(n: int) -> str:
    return "more than 10,000,000" if n >= MAX_SESSIONS_NEEDED else f"≈{n:,}"


def _pct(x: float) -> str:
    return f"{x:.1%}" if x < 0.1 else f"{x:.0%}"


def cell_sentences(cell: dict[str, Any], creatives: list[dict[str, Any]], segment_by: str) -> list[str]:
    """What to do in one (campaign, segment) cell, in plain words."""
    where = _where(segment_by, cell["segment"])
    best = cell["best_creative_id"]
    split = ", ".join(f"{c['creative_id']} {c['share']:.0%}" for c in creatives if c["share"] > 0)
    decision = cell["decision"]
    if decision == "single_creative":
        sentences = [f"{cell['campaign_id']} {where}: only {best} runs, nothing to compare."]
    elif decision == "run":
        sentences = [
            f"{cell['campaign_id']} {where}: scale {best}: it converts at {cell['conversion_rate']:.2%} "
            f"(95 % range {cell['ci_low']:.2%} – {cell['ci_high']:.2%}), {_pct(cell['chance_to_be_best'])} chance "
            f"to be best; split {split}."
        ]
    elif decision == "equivalent":
        worst = max((c["relative_loss"] for c in creatives if c["action"] == "keep"), default=0.0)
        sentences = [
            f"{cell['campaign_id']} {where}: the creatives convert alike (choosing any loses at most "
            f"{worst:.1%} of the rate); keep the one you prefer, no more testing needed."
        ]
    else:
        sentences = [
            f"{cell['campaign_id']} {where}: no winner yet: {best} leads with {_pct(cell['chance_to_be_best'])} "
            f"chance to be best; keep testing ({_count(cell['more_sessions_needed'])} more sessions needed), "
            f"split {split}."
        ]
    for c in creatives:
        if c["action"] == "pause":
            sentences.append(
                f"{cell['campaign_id']} {where}: pause {c['creative_id']}: {c['chance_to_be_best']:.1%} chance to be "
                f"best, about {-c['lift_vs_leader']:.0%} below {best}."
            )
    return sentences


def campaign_summary(cells: list[dict[str, Any]], segment_by: str) -> dict[str, Any]:
    """One campaign's verdict: segment-specific winners when confident ones differ, else the overall one."""
    campaign = cells[0]["campaign_id"]
    overall = next((c for c in cells if c["segment"] == ALL_SEGMENTS), None)
    segments = [c for c in cells if c["segment"] != ALL_SEGMENTS]
    winners = {c["segment"]: c["best_creative_id"] for c in segments if c["decision"] == "run"}
    open_cells = [c for c in segments if c["decision"] == "not_enough_data"]
    pending = f"; keep testing {', '.join(_where(segment_by, c['segment']) for c in open_cells)}" if open_cells else ""
    if len(set(winners.values())) > 1:
        picks = ", ".join(f"{w} {_where(segment_by, s)}" for s, w in sorted(winners.items()))
        sentence = f"{campaign}: {picks}{pending}."
        kind = "segment_winners"
    elif overall is not None and overall["decision"] == "run":
        sentence = (
            f"{campaign}: {overall['best_creative_id']} is the best creative overall "
            f"({_pct(overall['chance_to_be_best'])} chance to be best){pending}."
        )
        kind = "overall_winner"
    elif winners:
        picks = ", ".join(f"{w} {_where(segment_by, s)}" for s, w in sorted(winners.items()))
        sentence = f"{campaign}: {picks}{pending}."
        kind = "segment_winners"
    elif overall is not None and overall["decision"] == "equivalent":
        sentence = f"{campaign}: its creatives convert alike; no winner to pick."
        kind = "equivalent"
    elif overall is not None and overall["decision"] == "single_creative":
        sentence = f"{campaign}: a single creative ({overall['best_creative_id']}); nothing to compare."
        kind = "single_creative"
    else:
        more = overall["more_sessions_needed"] if overall is not None else 0
        sentence = f"{campaign}: no clear winner yet; keep testing ({_count(int(more))} more sessions needed)."
        kind = "keep_testing"
    return {"campaign_id": campaign, "verdict": kind, "winners": winners, "sentence": sentence}


def shrinkage_sentence(prior: Mapping[str, Any]) -> str:
    """What the prior does to a campaign's rates, for a marketer (``prior``: mean, strength, method)."""
    if prior.get("mean") is None or not prior.get("strength"):
        return "Rates are each creative's own: no campaign average to pull them toward."
    pull = (
        f"Rates are pulled toward this campaign's average ({_pct(prior['mean'])}) as if every creative had "
        f"≈{prior['strength']:,.0f} more sessions at that average"
    )
    if prior.get("method") == "weak":
        return f"{pull} (a light pull: too few creatives to learn more from)."
    return f"{pull}: creatives with few sessions of their own look more alike than their raw numbers."


@dataclass(frozen=True)
class CreativeReport:
    """Creative recommendations of a client: per cell, per creative, per campaign, with the priors used."""

    client_id: str
    segment_by: str
    table: pd.DataFrame  # one row per (campaign, segment): CreativeSelector.recommendations()
    creatives: pd.DataFrame  # one row per (campaign, segment, creative): CreativeSelector.stats_
    priors: pd.DataFrame  # one row per campaign
    warnings: list[str] = field(default_factory=list)

    def cells(self) -> list[dict[str, Any]]:
        """The cells, JSON-ready, each with its creatives (stats, share, action) and sentences."""
        by_cell = {
            key: group.drop(columns=["campaign_id", "segment"]).to_dict("records")
            for key, group in self.creatives.groupby(["campaign_id", "segment"], sort=False)
        }
        rows = []
        for cell in _records(self.table):
            creatives = _clean(by_cell.get((cell["campaign_id"], cell["segment"]), []))
            rows.append({**cell, "creatives": creatives, "sentences": cell_sentences(cell, creatives, self.segment_by)})
        return rows

    def campaigns(self, cells: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Per campaign: the verdict, winners per segment, one sentence, the prior of its rates and what it does."""
        cells = self.cells() if cells is None else cells
        priors = {p["campaign_id"]: p for p in _records(self.priors)}
        out = []
        for campaign in dict.fromkeys(c["campaign_id"] for c in cells):
            summary = campaign_summary([c for c in cells if c["campaign_id"] == campaign], self.segment_by)
            prior = {k.removeprefix("prior_"): v for k, v in priors.get(campaign, {}).items() if k != "campaign_id"}
            out.append({**summary, "prior": prior, "shrinkage": shrinkage_sentence(prior)})
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``recommendations`` (one entry per cell), ``campaigns`` and ``warnings``."""
        cells = self.cells()
        return {
            "client_id": self.client_id,
            "segment_by": self.segment_by,
            "recommendations": cells,
            "campaigns": self.campaigns(cells),
            "warnings": list(self.warnings),
        }


def _clean(records: Sequence[Mapping[Any, Any]]) -> list[dict[str, Any]]:
    """Plain Python values (no numpy scalars, no NaN) for JSON."""
    return [{str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in records]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return _clean(frame.astype(object).where(frame.notna(), None).to_dict("records"))


def creative_report(
    settings: Settings,
    client: Client,
    campaign_id: str | None = None,
    load_sessions: SessionLoader | None = None,
    *,
    segment_by: str = "device",
    selector: CreativeSelector | None = None,
) -> CreativeReport:
    """Fit the creative selector on the client's sessions (priors use every campaign) and report.

    Raises ``InvalidInput`` for an unknown ``segment_by``, ``NotFound`` for a campaign without sessions and
    ``NotReady`` when no session carries a campaign and a creative.
    """
    if segment_by not in SEGMENT_BYS:
        raise InvalidInput(f"unknown segment {segment_by!r}: use one of {', '.join(SEGMENT_BYS)}")
    sessions = load_sessions_with(settings, client, load_sessions)
    tagged = sessions.dropna(subset=["campaign_id", "creative_id"])
    if campaign_id is not None and not (sessions["campaign_id"] == campaign_id).any():
        known = sorted(str(c) for c in tagged["campaign_id"].unique())
        listed = ", ".join(known[:10]) + (", …" if len(known) > 10 else "")
        raise NotFound(f"no sessions of campaign {campaign_id!r}" + (f"; known campaigns: {listed}" if known else ""))
    if tagged.empty:
        raise NotReady(f"no sessions of client {client.id!r} carry a campaign and a creative (utm_content) yet")
    if campaign_id is not None and not (tagged["campaign_id"] == campaign_id).any():
        raise NotReady(f"campaign {campaign_id!r} has sessions but none names its creative (utm_content)")
    frame = pd.DataFrame(
        {
            "campaign_id": tagged["campaign_id"],
            "creative_id": tagged["creative_id"],
            "converted": tagged["converted"],
            SEGMENT_COLUMN: segment_values(tagged, segment_by),
        }
    )
    model = selector if selector is not None else CreativeSelector()
    model = model.set_params(segment_column=SEGMENT_COLUMN).fit(frame)
    table, stats, priors = model.recommendations(), model.stats_, model.priors_
    if campaign_id is not None:
        table = table[table["campaign_id"] == campaign_id].reset_index(drop=True)
        stats = stats[stats["campaign_id"] == campaign_id].reset_index(drop=True)
        priors = priors[priors["campaign_id"] == campaign_id].reset_index(drop=True)
    return CreativeReport(client.id, segment_by, table, stats, priors, _warnings(table, priors, segment_by))


def _warnings(table: pd.DataFrame, priors: pd.DataFrame, segment_by: str) -> list[str]:
    warnings = []
    thin = table[(table["decision"] == "not_enough_data") & (table["segment"] != ALL_SEGMENTS)]
    if len(thin):
        warnings.append(
            f"{len(thin)} of {int((table['segment'] != ALL_SEGMENTS).sum())} (campaign, {segment_by}) cells "
            "have too little data for a winner: keep testing there."
        )
    weak = priors[priors["prior_method"] == "weak"]["campaign_id"].tolist()
    if weak:
        warnings.append(f"too few creatives and segments to fit a prior for {', '.join(weak)}: a weak prior is used.")
    no_conversions = table[(table["segment"] == ALL_SEGMENTS) & (table["conversions"] == 0)]["campaign_id"].tolist()
    if no_conversions:
        warnings.append(f"no conversions yet in {', '.join(no_conversions)}.")
    return warnings


def recommend_creatives(
    settings: Settings,
    client: Client,
    campaign_id: str | None = None,
    load_sessions: SessionLoader | None = None,
    *,
    segment_by: str = "device",
) -> pd.DataFrame:
    """Per campaign and segment (and over all segments, ``segment == "all"``): the creative to run, or not yet."""
    report = creative_report(settings, client, campaign_id, load_sessions, segment_by=segment_by)
    return report.table.replace({np.nan: None})
