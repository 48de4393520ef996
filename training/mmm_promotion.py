"""The media-mix promotion gate: ``champion`` moves to a new version only when it predicts no worse and does not
flip the advice without new evidence.

Two checks, both on :func:`training.mmm_compare.compare_versions` of the two versions on the client's current data:

- **Accuracy, "no worse"**: on the held-out periods both versions predicted out of sample (their held-out tails
  overlap), the challenger's mean absolute error may exceed the champion's by at most :data:`ACCURACY_TOLERANCE`
  (10 %) — the point ratio decides; its 90 % moving-block bootstrap interval is recorded beside it, since some
  20 held-out weeks rarely prove either model better. With fewer than four shared periods each version's own
  held-out MAPE is compared with the same tolerance (different weeks: said in the reasons). Without any held-out
  figure the gate cannot tell and refuses.
- **Stable advice**: at today's total (the mean spend of the last four weeks), the allocation on the challenger's
  curves may move no channel by more than :data:`MAX_MOVE_SHARE` (15 %) of the total from the allocation on the
  champion's, unless the data explain it: the challenger was fitted on at least :data:`EVIDENCE_DAYS` (a quarter:
  13 weeks) of data after the champion's last fitted day. A refit on the same or a few more weeks that moves
  budget that far is a change of the fit, not of the evidence.

Every decision — promoted, refused or forced — goes to the challenger version's tags and to the audit log with its
reasons. The champion before a promotion keeps the alias ``previous-champion`` (a rollback is ``xmo mmm promote
CLIENT --version V --force``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlflow.tracking import MlflowClient

from core import audit
from core.database import get_engine
from core.errors import InvalidInput, NotFound, NotReady
from core.settings import Settings
from features.media_mix_data import media_mix_inputs
from models.mmm_registry import load_media_mix, mmm_model_name, model_version
from models.registry import CHALLENGER, CHAMPION, configure_mlflow, move_champion
from training.mmm_compare import VersionComparison, compare_versions

ACCURACY_TOLERANCE = 0.10
MAX_MOVE_SHARE = 0.15
EVIDENCE_DAYS = 91


@dataclass(frozen=True)
class MmmPromotion:
    """What the gate decided and why."""

    client_id: str
    model_name: str
    challenger_version: str
    champion_version: str | None  # before the decision
    promoted: bool
    forced: bool
    reasons: list[str]
    comparison: VersionComparison | None = None

    @property
    def decision(self) -> str:
        """``promoted``, ``forced`` or ``refused``."""
        return "forced" if self.forced else "promoted" if self.promoted else "refused"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "client_id": self.client_id,
            "model_name": self.model_name,
            "challenger_version": self.challenger_version,
            "champion_version": self.champion_version,
            "promoted": self.promoted,
            "forced": self.forced,
            "decision": self.decision,
            "reasons": self.reasons,
            "comparison": None if self.comparison is None else self.comparison.to_dict(),
        }


def accuracy_verdict(comparison: VersionComparison) -> tuple[bool, str]:
    """Whether the challenger predicts no worse, and the sentence that says so."""
    acc = comparison.accuracy
    if acc.method == "none" or acc.ratio is None:
        return False, "no held-out figures to compare: cannot tell whether the challenger predicts as well"
    ok = acc.ratio <= 1.0 + ACCURACY_TOLERANCE
    verdict = "no worse" if ok else "worse"
    if acc.method == "shared_holdout":
        low, high = acc.interval or (float("nan"), float("nan"))
        return ok, (
            f"accuracy {verdict}: on the {acc.n_periods} held-out periods both versions predicted out of sample "
            f"({acc.first_day} to {acc.last_day}) the challenger's mean absolute error is {acc.ratio:.2f}× the "
            f"champion's (90% interval {low:.2f}–{high:.2f}; tolerance {1 + ACCURACY_TOLERANCE:.2f}×)"
        )
    return ok, (
        f"accuracy {verdict}: held-out MAPE {acc.challenger:.1%} against the champion's {acc.champion:.1%} "
        f"(different held-out periods, so weaker evidence; tolerance {1 + ACCURACY_TOLERANCE:.2f}×)"
    )


def stability_verdict(comparison: VersionComparison) -> tuple[bool, list[str]]:
    """Whether the allocation at the same total moves no channel too far without new evidence."""
    moved = [c for c in comparison.channels if c.move_share is not None and c.move_share > MAX_MOVE_SHARE]
    if not moved:
        return True, [
            f"advice stable: at today's total the allocation moves no channel by more than "
            f"{MAX_MOVE_SHARE:.0%} of the total (largest {comparison.max_move_share:.1%})"
        ]
    names = ", ".join(f"{c.channel} {c.move_share:.0%}" for c in moved if c.move_share is not None)
    if comparison.new_days >= EVIDENCE_DAYS:
        return True, [
            f"advice moved ({names} of the total) but the challenger has {comparison.new_days} more days of data "
            f"(at least {EVIDENCE_DAYS}): explained by new evidence"
        ]
    return False, [
        f"advice moved without new evidence: {names} of the total at today's total (limit {MAX_MOVE_SHARE:.0%}), "
        f"with {comparison.new_days} more days of data than the champion (a move needs at least {EVIDENCE_DAYS})"
    ]


def _record(settings: Settings, client: MlflowClient, result: MmmPromotion, actor: str) -> None:
    tags = {
        "xmo.promotion.decision": result.decision,
        "xmo.promotion.at": datetime.now(UTC).isoformat(timespec="seconds"),
        "xmo.promotion.reasons": "\n".join(result.reasons)[:4000],
        "xmo.promotion.champion_before": result.champion_version or "",
    }
    for key, value in tags.items():
        client.set_model_version_tag(result.model_name, result.challenger_version, key, value)
    comparison = result.comparison
    with get_engine(settings).begin() as connection:
        audit.record(
            connection,
            actor=actor,
            action=f"mmm.promote.{result.decision}",
            client_id=result.client_id,
            details={
                "model": result.model_name,
                "challenger": result.challenger_version,
                "champion_before": result.champion_version,
                "reasons": result.reasons,
                "accuracy_ratio": None if comparison is None else comparison.accuracy.ratio,
                "max_move_share": None if comparison is None else comparison.max_move_share,
            },
        )


def promote_mmm(
    settings: Settings, client_id: str, version: str | None = None, force: bool = False, actor: str = audit.CLI_ACTOR
) -> MmmPromotion:
    """Consider ``version`` (default: the ``challenger``) for ``champion`` and record the decision."""
    client = configure_mlflow(settings)
    name = mmm_model_name(client_id)
    if version is None:
        try:
            version = str(model_version(client, client_id, CHALLENGER).version)
        except NotFound as exc:
            raise NotReady(
                f"{name} has no challenger; fit a new version with `xmo mmm fit {client_id}` or pass --version"
            ) from exc
    candidate = load_media_mix(settings, client_id, version=str(version))
    try:
        champion_entry = model_version(client, client_id, CHAMPION)
        champion_version: str | None = str(champion_entry.version)
    except NotReady:
        champion_version = None
    if champion_version == candidate.version:
        raise InvalidInput(f"{name} version {candidate.version} is already the champion")
    if champion_version is None:
        result = MmmPromotion(client_id, name, candidate.version, None, True, False, ["there is no champion yet"])
    else:
        result = _judge(settings, client_id, name, candidate.version, champion_version, force)
    if result.promoted:
        move_champion(client, name, candidate.version, champion_version)
    _record(settings, client, result, actor)
    return result


def _judge(
    settings: Settings, client_id: str, name: str, version: str, champion_version: str, force: bool
) -> MmmPromotion:
    challenger = load_media_mix(settings, client_id, version=version)
    try:
        champion = load_media_mix(settings, client_id, version=champion_version)
    except NotReady as exc:  # saved by an older xmo: it can no longer answer, so it holds nothing back
        reason = f"the champion (version {champion_version}) cannot be used any more: {exc}"
        return MmmPromotion(client_id, name, version, champion_version, True, False, [reason])
    if champion.kpi and challenger.kpi and champion.kpi != challenger.kpi:
        reasons = [f"the champion explains {champion.kpi}, the challenger {challenger.kpi}: not comparable"]
        passed = False
        comparison = None
    else:
        inputs = media_mix_inputs(
            settings,
            client_id,
            kpi=challenger.kpi or None,
            controls=challenger.controls,
            channels=challenger.requested_channels,
        )
        comparison = compare_versions(
            champion.model, challenger.model, inputs.X, champion_version=champion_version, challenger_version=version
        )
        accurate, accuracy_reason = accuracy_verdict(comparison)
        stable, stability_reasons = stability_verdict(comparison)
        reasons = [accuracy_reason, *stability_reasons, *comparison.notes]
        passed = accurate and stable
    if force and not passed:
        reasons = [*reasons, "promoted anyway: --force"]
    return MmmPromotion(
        client_id, name, version, champion_version, passed or force, force and not passed, reasons, comparison
    )
