"""Tenants: the clients, their policies and API keys, in the tenant database (`XMO_DATABASE_URL`)."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
from publicsuffixlist import PublicSuffixList
from sqlalchemy import Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from core import audit
from core.apikeys import KeyKind, display_prefix, hash_key, hashes_match, kind_of, new_key
from core.database import get_engine
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from core.layout import CLIENT_ID_PATTERN, check_client_id
from core.schema import api_keys, clients, goals
from core.settings import Settings

DEFAULT_RETENTION_DAYS = 395
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
)


@dataclass(frozen=True)
class Client:
    """A tenant of xmo and its privacy policy."""

    id: str
    name: str
    allowed_domains: tuple[str, ...]
    collect_pii: bool
    retention_days: int
    honour_dnt: bool
    timezone: str
    created_at: datetime
    benchmarks_opt_in: bool = False  # pooled into cross-client benchmarks (privacy P8)
    currency: str | None = None  # ISO 4217 code of the client's amounts (spend, values); None: not set

    @classmethod
    def from_row(cls, row: Row[Any]) -> Client:
        data = dict(row._mapping)
        data["allowed_domains"] = tuple(data["allowed_domains"])
        return cls(**data)

    def public(self) -> dict[str, Any]:
        """A JSON-ready view without secrets."""
        return {
            "client_id": self.id,
            "name": self.name,
            "allowed_domains": list(self.allowed_domains),
            "collect_pii": self.collect_pii,
            "retention_days": self.retention_days,
            "honour_dnt": self.honour_dnt,
            "timezone": self.timezone,
            "benchmarks_opt_in": self.benchmarks_opt_in,
            "currency": self.currency,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class NewClient:
    """A client just created, with its keys (shown this once, never stored in the clear)."""

    client: Client
    site_key: str
    api_key: str


@dataclass(frozen=True)
class Principal:
    """Who a presented key belongs to."""

    kind: KeyKind
    client_id: str | None
    key_prefix: str


def slugify(name: str) -> str:
    """A client id derived from a display name: ``"Acme Shop GmbH"`` → ``acme-shop-gmbh``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:63].rstrip("-")
    if not CLIENT_ID_PATTERN.fullmatch(slug):
        raise InvalidInput(f"cannot derive a client id from {name!r}; pass --id")
    return slug


@functools.cache
def _public_suffix_list() -> PublicSuffixList:
    """The Public Suffix List that ships inside the ``publicsuffixlist`` package (read once; never downloaded)."""
    return PublicSuffixList()  # ICANN and private sections, unknown TLDs count as public


def is_public_suffix(domain: str) -> bool:
    """Whether anyone may register names under ``domain`` (``*.`` ignored): ``com``, ``co.uk``, ``github.io``.

    Both sections of the list count. ICANN's (``com``, ``co.uk``) are registries; the private one
    (``github.io``, ``herokuapp.com``, ``s3.amazonaws.com``) lists hosts that give subdomains to anyone, so
    ``*.github.io`` would let a client's links redirect to every GitHub Pages site just as ``*.com`` would to
    every .com site. A single label that the list does not know (``localhost``, ``example``) counts as public too.
    """
    return bool(_public_suffix_list().is_public(domain.removeprefix("*.")))


def normalize_domain(domain: str) -> str:
    """Lower-case host name (``*.`` allowed for subdomains); raises ``InvalidInput`` for anything else.

    A public suffix (``com``, ``*.co.uk``, ``*.github.io``) is refused: a client's click redirects go to its
    allowed domains without a signature, so such an entry would make ``/r`` an open redirect.
    """
    host = domain.strip().lower().rstrip(".")
    host = re.sub(r"^https?://", "", host).split("/", 1)[0]
    if host.strip("*.") == "":
        raise InvalidInput(f"invalid domain {domain!r}: a bare wildcard would allow every site; give *.example.com")
    if not _HOSTNAME.fullmatch(host):
        raise InvalidInput(f"invalid domain {domain!r}: give a host name such as shop.example.com")
    if is_public_suffix(host):
        raise InvalidInput(
            f"invalid domain {domain!r}: {host.removeprefix('*.')} is a public suffix (anyone can register names "
            "under it), so the client's links could redirect anywhere; give the client's own domain such as "
            "shop.example.com or *.example.com"
        )
    return host


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin") from exc
    return name


# codes in ISO 4217 that name no money: XTS (reserved for testing) and XXX ("no currency involved")
_NOT_MONEY = frozenset({"XTS", "XXX"})


def check_currency(code: str) -> str:
    """An ISO 4217 currency code, upper-cased (``eur`` → ``EUR``); ``InvalidInput`` for anything not in the list."""
    normalized = code.strip().upper()
    if (
        len(normalized) != 3
        or not normalized.isascii()
        or normalized in _NOT_MONEY
        or pycountry.currencies.get(alpha_3=normalized) is None
    ):
        raise InvalidInput(f"unknown currency {code!r}: give an ISO 4217 code such as EUR, USD or GBP")
    return normalized


def _check_retention(days: int) -> int:
    if isinstance(days, bool) or not 1 <= days <= 3650:
        raise InvalidInput("retention days must be between 1 and 3650")
    return days


def _key_name(kind: KeyKind) -> str:
    """How people call a kind of key: site key, API key, admin key."""
    return f"{'API' if kind is KeyKind.API else kind.value} key"


def _with_article(noun: str) -> str:
    return f"{'an' if noun[0].lower() in 'aeiou' else 'a'} {noun}"


class Tenants:
    """Create, find and authenticate clients; every change is audited."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_settings(cls, settings: Settings) -> Tenants:
        """The registry in the database ``settings`` name (migrated on first use)."""
        return cls(get_engine(settings))

    # clients --------------------------------------------------------------------------------
    def create_client(
        self,
        name: str,
        domains: list[str],
        *,
        client_id: str | None = None,
        collect_pii: bool = False,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        honour_dnt: bool = False,
        timezone: str = "UTC",
        benchmarks_opt_in: bool = False,
        currency: str | None = None,
        actor: str = "cli",
    ) -> NewClient:
        """Register a client and issue its site and API keys; ``currency`` is an ISO 4217 code or None (not set)."""
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("client name must have 1-200 characters")
        if not domains:
            raise InvalidInput("give at least one domain the client tracks (--domain)")
        _check_retention(retention_days)
        cid = check_client_id(client_id) if client_id else slugify(name)
        normalized = tuple(dict.fromkeys(normalize_domain(d) for d in domains))
        timezone = _check_timezone(timezone)
        currency = check_currency(currency) if currency is not None else None
        now = datetime.now(UTC)
        site_key, api_key = new_key(KeyKind.SITE), new_key(KeyKind.API)
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    insert(clients).values(
                        id=cid,
                        name=name,
                        allowed_domains=list(normalized),
                        collect_pii=collect_pii,
                        retention_days=retention_days,
                        honour_dnt=honour_dnt,
                        timezone=timezone,
                        created_at=now,
                        benchmarks_opt_in=benchmarks_opt_in,
                        currency=currency,
                    )
                )
                for kind, key in ((KeyKind.SITE, site_key), (KeyKind.API, api_key)):
                    self._insert_key(connection, kind, key, cid, now)
                audit.record(
                    connection,
                    actor=actor,
                    action="client.create",
                    client_id=cid,
                    details={
                        "collect_pii": collect_pii,
                        "domains": len(normalized),
                        "benchmarks_opt_in": benchmarks_opt_in,
                        "currency": currency,
                    },
                )
        except IntegrityError as exc:
            raise Conflict(f"client {cid!r} already exists; choose another name or --id") from exc
        return NewClient(self.get_client(cid), site_key, api_key)

    def get_client(self, client_id: str) -> Client:
        """The client with this id; ``NotFound`` if there is none."""
        with self.engine.connect() as connection:
            row = connection.execute(select(clients).where(clients.c.id == client_id)).first()
        if row is None:
            raise NotFound(f"unknown client {client_id!r} (see `xmo client list`)")
        return Client.from_row(row)

    def update_client(
        self,
        client_id: str,
        *,
        benchmarks_opt_in: bool | None = None,
        retention_days: int | None = None,
        currency: str | None = None,
        actor: str = "cli",
    ) -> Client:
        """Change a client's policy or currency (only the values given); audited with the old and new values.

        ``currency``: an ISO 4217 code, or ``""`` to unset it.

        ``InvalidInput`` when nothing or a bad value is given, ``NotFound`` for an unknown client; either way
        nothing changes.
        """
        changes: dict[str, Any] = {}
        if benchmarks_opt_in is not None:
            changes["benchmarks_opt_in"] = bool(benchmarks_opt_in)
        if retention_days is not None:
            changes["retention_days"] = _check_retention(retention_days)
        if currency is not None:
            changes["currency"] = check_currency(currency) if currency.strip() else None
        if not changes:
            raise InvalidInput("nothing to change: give a benchmarks opt-in, retention days and/or a currency")
        with self.engine.begin() as connection:
            row = connection.execute(select(clients).where(clients.c.id == client_id)).first()
            if row is None:
                raise NotFound(f"unknown client {client_id!r} (see `xmo client list`)")
            before = Client.from_row(row)
            connection.execute(update(clients).where(clients.c.id == client_id).values(**changes))
            audit.record(
                connection,
                actor=actor,
                action="client.update",
                client_id=client_id,
                details={name: {"from": getattr(before, name), "to": value} for name, value in changes.items()},
            )
        return self.get_client(client_id)

    def list_clients(self) -> list[Client]:
        """All clients, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(clients).order_by(clients.c.created_at, clients.c.id)).all()
        return [Client.from_row(row) for row in rows]

    # keys -----------------------------------------------------------------------------------
    @staticmethod
    def _insert_key(connection: Any, kind: KeyKind, key: str, client_id: str | None, now: datetime) -> None:
        connection.execute(
            insert(api_keys).values(
                client_id=client_id,
                kind=kind.value,
                key_hash=hash_key(key),
                display_prefix=display_prefix(key),
                created_at=now,
            )
        )

    def rotate_key(self, kind: KeyKind, client_id: str | None = None, *, actor: str = "cli") -> str:
        """Issue a new key of ``kind`` (for a client, or the operator's admin key) and revoke the old ones."""
        if (kind is KeyKind.ADMIN) != (client_id is None):
            raise InvalidInput("admin keys belong to no client; site and API keys need a client id")
        if client_id is not None:
            self.get_client(client_id)
        now = datetime.now(UTC)
        key = new_key(kind)
        owner = api_keys.c.client_id.is_(None) if client_id is None else api_keys.c.client_id == client_id
        with self.engine.begin() as connection:
            connection.execute(
                update(api_keys)
                .where(owner, api_keys.c.kind == kind.value, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            self._insert_key(connection, kind, key, client_id, now)
            audit.record(connection, actor=actor, action=f"key.rotate.{kind.value}", client_id=client_id)
        return key

    def authenticate(self, key: str | None, *allowed: KeyKind) -> Principal:
        """The principal of ``key`` if it is live and of an allowed kind.

        Raises ``Unauthorized`` for a missing or unknown key and ``Forbidden`` for a key of another kind.
        """
        if not key or kind_of(key) is None:
            raise Unauthorized("missing or malformed API key")
        with self.engine.connect() as connection:
            row = connection.execute(
                select(api_keys.c.key_hash, api_keys.c.kind, api_keys.c.client_id, api_keys.c.display_prefix).where(
                    api_keys.c.key_hash == hash_key(key), api_keys.c.revoked_at.is_(None)
                )
            ).first()
        if row is None or not hashes_match(row.key_hash, key):
            raise Unauthorized("unknown or revoked API key")
        kind = KeyKind(row.kind)
        if allowed and kind not in allowed:
            wanted = " or ".join(_with_article(_key_name(k)) for k in allowed)
            raise Forbidden(f"{_with_article(_key_name(kind))} cannot do this; use {wanted}")
        return Principal(kind=kind, client_id=row.client_id, key_prefix=row.display_prefix)

    # forgetting (privacy.purge runs these as steps of a client purge, each audited there) ---------------
    def delete_api_keys(self, client_id: str) -> int:
        """Delete every API key of ``client_id`` (revoked ones too); the number of rows deleted."""
        with self.engine.begin() as connection:
            return int(connection.execute(delete(api_keys).where(api_keys.c.client_id == client_id)).rowcount or 0)

    def delete_client(self, client_id: str) -> int:
        """Delete the client's row and its goals (the audit log stays); the number of rows deleted."""
        with self.engine.begin() as connection:
            rows = int(connection.execute(delete(goals).where(goals.c.client_id == client_id)).rowcount or 0)
            rows += int(connection.execute(delete(clients).where(clients.c.id == client_id)).rowcount or 0)
        return rows

    def client_for_site_key(self, key: str) -> str | None:
        """The client id a site key sends hits for, or None (unknown, revoked, or not a site key)."""
        try:
            principal = self.authenticate(key, KeyKind.SITE)
        except (Unauthorized, Forbidden):
            return None
        return principal.client_id
