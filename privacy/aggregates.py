"""Cross-client aggregates that identify neither clients nor users (privacy P8); pure functions.

Input is one row per (cell, contributor): a contributor is a client, named by an opaque label that never
leaves this module; the counts are that client's share of the cell. Output is one row per *published* cell
with pooled numbers only, and how many cells were suppressed (never which).

**Suppression.** A cell is published only when it pools at least ``min_visitors`` distinct visitors from at
least ``min_clients`` clients, **and** no two clients hold more than ``dominance_share`` (90 %) of its
visitors — the (2, 90 %) dominance rule of statistical disclosure control. A contributing client can always
subtract its own numbers from a pooled cell; with two clients that leaves the other's exact figures, and with
one dominant partner nearly so. Hence ``min_clients`` is never below ``MIN_CLIENTS_FLOOR`` = 3 and the
dominance rule suppresses a cell whose remainder after the largest contributor is essentially one client.
Summed business figures (spend) obey the same two rules among the clients that report them; when they fail,
only that figure is withheld (``NaN``), not the cell.

**Noise (optional).** With ``epsilon``, every published count gets Laplace noise (``numpy.random.Generator``).
The unit of privacy is one visitor with all their sessions: the caller assigns each visitor to exactly one
cell and bounds what one visitor adds to each count (``sensitivities``: 1 to visitors and converted visitors,
the session cap to sessions and conversions). The budget is split evenly over the J noised counts, so count j
gets scale ``b_j = J · Δ_j / ε`` and the whole release is ε-differentially private for the numbers published
(composition). Noise is rounded to whole numbers and clamped to valid ranges (≥ 0, converted ≤ visitors,
conversions ≤ sessions) — post-processing, which keeps the guarantee. Whether a cell is published depends on
exact counts: the thresholds, not the noise, protect that fact. Summed spend is not noised: it is a client's
business figure, not a person's data, and the client-count and dominance rules cover it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InvalidInput

CONTRIBUTOR = "contributor"
UNIT = "visitors"
MIN_CLIENTS_FLOOR = 3
DOMINANCE_TOP = 2
DOMINANCE_SHARE = 0.9
MAX_EPSILON = 10.0
# Published counts bounded by another count after noise (post-processing keeps them consistent)
BOUNDED_BY: Mapping[str, str] = {
    "converted_visitors": "visitors",
    "conversions": "sessions",
    "spend_conversions": "conversions",
}


@dataclass(frozen=True)
class Thresholds:
    """When a cell may be published: enough visitors, enough clients, no dominant pair of clients."""

    min_visitors: int
    min_clients: int
    dominance_share: float = DOMINANCE_SHARE

    def __post_init__(self) -> None:
        if self.min_visitors < 2:
            raise InvalidInput("benchmarks need at least 2 visitors per cell")
        if self.min_clients < MIN_CLIENTS_FLOOR:
            raise InvalidInput(
                f"benchmarks need at least {MIN_CLIENTS_FLOOR} clients per cell: with 2, each client could "
                "subtract its own numbers and read the other's"
            )
        if not 0 < self.dominance_share <= 1:
            raise InvalidInput("the dominance share must be in (0, 1]")

    @classmethod
    def raised(
        cls, policy_visitors: int, policy_clients: int, min_visitors: int | None, min_clients: int | None
    ) -> Thresholds:
        """The operator's thresholds, raised (never lowered) by a request; ``InvalidInput`` for a lower value."""
        for asked, floor, name in (
            (min_visitors, policy_visitors, "visitors"),
            (min_clients, policy_clients, "clients"),
        ):
            if asked is not None and asked < floor:
                raise InvalidInput(f"min {name} may be raised above the configured {floor}, never lowered")
        return cls(
            max(min_visitors or policy_visitors, policy_visitors), max(min_clients or policy_clients, policy_clients)
        )


@dataclass(frozen=True)
class Pooled:
    """Published cells (pooled counts and sums, no contributor) and what protects them."""

    cells: pd.DataFrame
    suppressed: int
    thresholds: Thresholds
    epsilon: float | None
    scales: dict[str, float] = field(default_factory=dict)


def passes(values: pd.Series, groups: pd.Series, *, minimum: float, thresholds: Thresholds) -> pd.Series:
    """Per group: total ≥ ``minimum``, ≥ ``min_clients`` positive contributions, and the ``DOMINANCE_TOP``
    largest contributions together ≤ ``dominance_share`` of the total (a group with nothing fails)."""
    amounts = np.clip(np.nan_to_num(values.to_numpy(dtype=float), nan=0.0), 0.0, None)
    codes, names = pd.factorize(groups, sort=True)
    ok = np.zeros(len(names), dtype=bool)
    for code in range(len(names)):
        mine = np.sort(amounts[codes == code])[::-1]
        total = float(mine.sum())
        ok[code] = (
            total > 0
            and total >= minimum
            and int((mine > 0).sum()) >= thresholds.min_clients
            and float(mine[:DOMINANCE_TOP].sum()) <= thresholds.dominance_share * total + 1e-9
        )
    return pd.Series(ok, index=pd.Index(names))


def check_epsilon(epsilon: float | None) -> float | None:
    """``epsilon`` if it is None (no noise) or a number in (0, ``MAX_EPSILON``], else ``InvalidInput``."""
    if epsilon is not None and not (np.isfinite(epsilon) and 0 < epsilon <= MAX_EPSILON):
        raise InvalidInput(f"epsilon must be a number in (0, {MAX_EPSILON:g}]; got {epsilon!r}")
    return epsilon


def laplace_scales(epsilon: float, sensitivities: Mapping[str, float]) -> dict[str, float]:
    """Scale of each count's Laplace noise: the budget ε split evenly, ``b_j = J · Δ_j / ε``."""
    check_epsilon(epsilon)
    if not sensitivities or any(s <= 0 for s in sensitivities.values()):
        raise InvalidInput("every noised count needs a positive sensitivity")
    share = len(sensitivities) / epsilon
    return {name: float(delta) * share for name, delta in sensitivities.items()}


def add_laplace(cells: pd.DataFrame, scales: Mapping[str, float], rng: np.random.Generator) -> pd.DataFrame:
    """``cells`` with Laplace noise of the given scales on those columns, rounded and clamped to valid ranges."""
    noisy = cells.copy()
    for name, scale in scales.items():
        values = noisy[name].to_numpy(dtype=float) + rng.laplace(0.0, scale, size=len(noisy))
        noisy[name] = np.maximum(np.rint(values), 0).astype(np.int64)
    for name, bound in BOUNDED_BY.items():
        if name in noisy and bound in noisy:
            noisy[name] = np.minimum(noisy[name], noisy[bound])
    return noisy


def noise_generator(secret: bytes, fingerprint: bytes) -> np.random.Generator:
    """A generator seeded by HMAC(secret, fingerprint): the same data and query give the same noise, so asking
    again and averaging learns nothing; without the secret nobody can recompute (and strip) the noise."""
    digest = hmac.new(secret, fingerprint, hashlib.sha256).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest, "big")))


def pool(
    contributions: pd.DataFrame,
    *,
    cell: str,
    thresholds: Thresholds,
    sensitivities: Mapping[str, float],
    sums: tuple[str, ...] = (),
    epsilon: float | None = None,
    rng: np.random.Generator | None = None,
) -> Pooled:
    """Pool per-contributor rows into published cells.

    ``contributions`` has the columns ``cell``, ``contributor``, ``visitors`` (distinct visitors the contributor
    has in the cell), the count columns named in ``sensitivities`` and the ``sums`` columns (NaN where a
    contributor has none). Returns cells sorted by name, without the contributor, and the suppressed count.
    """
    needed = {cell, CONTRIBUTOR, UNIT, *sensitivities, *sums}
    missing = needed - set(contributions.columns)
    if missing:
        raise InvalidInput(f"contributions lack columns {sorted(missing)}")
    if UNIT not in sensitivities:
        raise InvalidInput(f"the counts must include {UNIT!r} (with its sensitivity, 1 when each visitor has one cell)")
    if epsilon is not None and rng is None:
        raise InvalidInput("noise needs a random generator")
    counts = list(sensitivities)
    rows = contributions  # a row without visitors may still carry a sum (spend that bought nobody)
    keys = rows[cell].astype(str)
    # a contributor named twice in a cell counts once, with its counts added
    per = rows.assign(**{cell: keys}).groupby([cell, CONTRIBUTOR], sort=True)
    merged = per[counts].sum().join(per[list(sums)].sum(min_count=1)) if sums else per[counts].sum()
    merged = merged.reset_index()
    groups = merged[cell]
    published = passes(merged[UNIT], groups, minimum=thresholds.min_visitors, thresholds=thresholds)
    all_cells = pd.Index(contributions[cell].astype(str).unique())
    kept = published[published].index
    pooled = merged[groups.isin(kept)].groupby(cell, sort=True)[counts].sum().astype(np.int64)
    for name in sums:
        values = merged[name].fillna(0.0)
        ok = passes(values, groups, minimum=0.0, thresholds=thresholds)
        total = values.groupby(groups).sum()
        pooled[name] = total.where(ok).reindex(pooled.index).astype(float)
    scales: dict[str, float] = {}
    if epsilon is not None and rng is not None:
        scales = laplace_scales(epsilon, sensitivities)
        pooled = add_laplace(pooled, scales, rng)
    cells = pooled.reset_index()
    return Pooled(
        cells=cells,
        suppressed=int(len(all_cells) - len(cells)),
        thresholds=thresholds,
        epsilon=epsilon,
        scales=scales,
    )
