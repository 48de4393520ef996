"""Client purge: when service to a client ends, everything identifiable to its users is destroyed (P10).

Order matters: the client's keys are revoked first (no new hits, no API calls), its vault key is destroyed
next (crypto-shredding: any copy of its pseudonyms or signed links left in a backup is meaningless from here
on), then every registered store forgets the client, then the registry rows go. Each step is recorded in the
audit log as it finishes, so a purge that crashed midway resumes where it stopped when run again and its
certificate still counts every step. A verification scan must find nothing before the purge is certified.
The certificate (kinds of data, counts, times; no personal data) is kept in the audit log and returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from core import audit
from core.audit import PURGE_STARTED, PURGE_STEP, PURGED
from core.database import get_engine, vacuum_sqlite
from core.errors import NotFound, XmoError
from core.layout import check_client_id
from core.schema import audit_log, clients
from core.settings import Settings
from core.tenants import Tenants
from privacy.keyvault import KeyVault
from privacy.scan import scan_client
from privacy.stores import ClientStore, client_stores

API_KEYS_STEP = "API keys"
CLIENT_KEY_STEP = "client key (crypto-shredded)"
REGISTRY_STEP = "registry (client, goals)"
VERIFIED_BY = "xmo privacy scan: no trace of the client in the registry, the key vault, any store or file"


class PurgeIncomplete(XmoError):
    """Something of the client is still there after every store ran; the purge is not certified."""

    code = "purge_incomplete"
    http_status = 500


@dataclass(frozen=True)
class DeletionCertificate:
    """Proof of a purge: what kinds of data were deleted, how many of each, when, by whom; no personal data."""

    certificate_id: str
    client_id: str
    actor: str
    started_at: str
    completed_at: str
    deleted: dict[str, int]
    verification: str = VERIFIED_BY
    already_purged: bool = False  # True when a re-run found the purge already complete
    resumed: bool = False  # True when this run finished a purge that had stopped midway

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _PurgeState:
    """What the audit log says about earlier purges of a client."""

    certificate_id: str | None = None  # of a purge started and not finished
    started_at: str | None = None
    steps: dict[str, int] = field(default_factory=dict)
    last_certificate: dict[str, Any] | None = None


def _state(engine: Engine, client_id: str) -> _PurgeState:
    state = _PurgeState()
    for entry in audit.entries(engine, client_id):
        if entry.action == PURGE_STARTED:
            state = _PurgeState(
                certificate_id=str(entry.details["certificate_id"]),
                started_at=entry.at.isoformat(),
                last_certificate=state.last_certificate,
            )
        elif entry.action == PURGE_STEP and entry.details.get("certificate_id") == state.certificate_id:
            store = str(entry.details["store"])
            state.steps[store] = state.steps.get(store, 0) + int(entry.details["count"])
        elif entry.action == PURGED:
            state = _PurgeState(last_certificate=dict(entry.details))
    return state


def purged_client_ids(engine: Engine) -> frozenset[str]:
    """Clients whose purge completed and that have not been created again (their late events must go)."""
    with engine.connect() as connection:
        purged = connection.execute(
            select(audit_log.c.client_id)
            .where(audit_log.c.action == PURGED, audit_log.c.client_id.not_in(select(clients.c.id)))
            .distinct()
        ).scalars()
        return frozenset(client_id for client_id in purged if client_id)


def _client_exists(engine: Engine, client_id: str) -> bool:
    with engine.connect() as connection:
        return connection.execute(select(clients.c.id).where(clients.c.id == client_id)).first() is not None


def purge_client(
    settings: Settings,
    client_id: str,
    *,
    actor: str,
    stores: Sequence[ClientStore] | None = None,
) -> DeletionCertificate:
    """Destroy everything of ``client_id`` and return the deletion certificate (idempotent, resumable).

    Raises ``NotFound`` for a client that neither exists nor was ever purged, and ``PurgeIncomplete`` when
    the verification scan still finds something (run it again once the cause is fixed). A purged client with
    nothing left gets its certificate back; one with data that arrived later is purged again.
    """
    check_client_id(client_id)
    engine = get_engine(settings)
    state = _state(engine, client_id)
    exists = _client_exists(engine, client_id)
    chosen = client_stores(settings) if stores is None else list(stores)
    if state.certificate_id is None and not exists:
        if state.last_certificate is None:
            raise NotFound(f"unknown client {client_id!r}: nothing to purge (see `xmo client list`)")
        if scan_client(settings, client_id, chosen).clean:
            return DeletionCertificate(**{**state.last_certificate, "already_purged": True, "resumed": False})
        # data that arrived after the purge (a worker that had not heard yet): purge again, certify anew
    resumed = state.certificate_id is not None
    certificate_id = state.certificate_id or str(uuid.uuid4())
    started_at = state.started_at or datetime.now(UTC).isoformat()
    if not resumed:
        with engine.begin() as connection:
            audit.record(
                connection,
                actor=actor,
                action=PURGE_STARTED,
                client_id=client_id,
                details={"certificate_id": certificate_id},
            )
    counts = dict(state.steps)

    def step(name: str, run: Callable[[], int]) -> None:
        count = run()
        counts[name] = counts.get(name, 0) + count
        with engine.begin() as connection:
            audit.record(
                connection,
                actor=actor,
                action=PURGE_STEP,
                client_id=client_id,
                details={"certificate_id": certificate_id, "store": name, "count": count},
            )

    tenants = Tenants(engine)
    step(API_KEYS_STEP, lambda: tenants.delete_api_keys(client_id))
    step(CLIENT_KEY_STEP, lambda: int(KeyVault.from_settings(settings).destroy(client_id)))
    for store in chosen:
        step(store.name, lambda store=store: store.forget_client(client_id))  # type: ignore[misc]
    step(REGISTRY_STEP, lambda: tenants.delete_client(client_id))
    vacuum_sqlite(settings.effective_database_url)
    result = scan_client(settings, client_id, chosen)
    if not result.clean:
        where = "; ".join(f"{t.store}: {t.location}" for t in result.traces[:5])
        raise PurgeIncomplete(
            f"purge of {client_id!r} left {len(result.traces)} trace(s) ({where}); run the purge again"
        )
    certificate = DeletionCertificate(
        certificate_id=certificate_id,
        client_id=client_id,
        actor=actor,
        started_at=started_at,
        completed_at=datetime.now(UTC).isoformat(),
        deleted=counts,
        resumed=resumed,
    )
    with engine.begin() as connection:
        audit.record(connection, actor=actor, action=PURGED, client_id=client_id, details=certificate.to_dict())
    return certificate
