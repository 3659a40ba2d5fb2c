"""Enrolment tokens (a client's devices join with them) and API tokens (people and tools).

Tokens are printed once at creation (``fwe_<id>_<secret>`` / ``fwt_<id>_<secret>``,
see :mod:`controller.store.credentials`); the store keeps only the secret's hash.
An enrolment token belongs to one client and may expire, be revoked or run out of
uses; an API token has a role and optionally one client it is confined to.
Creating and revoking are audited; listing never returns a secret or its hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, NamedTuple, get_args

from sqlalchemy import insert, select, update

from controller.errors import ConfigError, NotFound
from controller.store import credentials
from controller.store.audit import ActorKind, record_audit
from controller.store.engine import Store
from controller.store.statements import new_id
from controller.store.tables import api_tokens, enrollment_tokens
from schemas.resources import is_dns_label

Role = Literal["viewer", "operator", "admin"]

DEFAULT_ENROLMENT_TTL = timedelta(days=7)
LAST_USED_RESOLUTION = timedelta(seconds=60)
"""``last_used_at`` is only rewritten when older than this, so API reads stay write-free."""


@dataclass(frozen=True)
class ApiPrincipal:
    """Who is calling the operator API: the token's role and client scope (None = MSP-wide)."""

    token_id: str
    name: str
    role: Role
    client: str | None


class TokenInfo(NamedTuple):
    """One token as ``fleetward token list`` shows it: never the secret."""

    id: str
    kind: Literal["enrolment", "api"]
    client: str | None
    role: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    uses: int | None
    max_uses: int | None
    last_used_at: datetime | None


def _check_client(client: str) -> None:
    if not is_dns_label(client):
        raise ConfigError(f"client {client!r} is not a valid client name",
                          hint="use the metadata.name of a Client: lower-case letters, digits and '-'")


def _expiry(now: datetime, expires_in: timedelta | None) -> datetime | None:
    if expires_in is None:
        return None
    if expires_in <= timedelta(0):
        raise ConfigError("a token must expire in the future", hint="pass a positive duration or none")
    return now + expires_in


def create_enrollment_token(store: Store, client: str, *,
                            expires_in: timedelta | None = DEFAULT_ENROLMENT_TTL, max_uses: int | None = None,
                            created_by: str, now: datetime) -> str:
    """A new enrolment token for ``client``'s devices; the returned string is the only copy."""
    _check_client(client)
    if max_uses is not None and max_uses < 1:
        raise ConfigError(f"--max-uses must be at least 1, got {max_uses}")
    token_id, secret = new_id("e_", 16), credentials.new_secret()
    with store.write() as session:
        session.execute(insert(enrollment_tokens).values(
            id=token_id, client=client, secret_hash=credentials.hash_secret(secret), created_at=now,
            created_by=created_by[:253], expires_at=_expiry(now, expires_in), revoked_at=None,
            max_uses=max_uses, uses=0))
        record_audit(session, actor=created_by, actor_kind="cli", action="enrolment-token.created",
                     target=token_id, client=client, detail={"max_uses": max_uses}, now=now)
    return credentials.compose("fwe", token_id, secret)


def create_api_token(store: Store, *, name: str, role: Role, client: str | None = None,
                     expires_in: timedelta | None = None, now: datetime, created_by: str = "cli") -> str:
    """A new API token; ``client`` confines it to one client's data."""
    if role not in get_args(Role):
        raise ConfigError(f"role {role!r} is unknown", hint="use viewer, operator or admin")
    if not name.strip() or len(name) > 253:
        raise ConfigError("an API token needs a name of 1-253 characters (who uses it)")
    if client is not None:
        _check_client(client)
    token_id, secret = new_id("t_", 16), credentials.new_secret()
    with store.write() as session:
        session.execute(insert(api_tokens).values(
            id=token_id, name=name, role=role, client=client, secret_hash=credentials.hash_secret(secret),
            created_at=now, expires_at=_expiry(now, expires_in), revoked_at=None, last_used_at=None))
        record_audit(session, actor=created_by, actor_kind="cli", action="api-token.created", target=token_id,
                     client=client, detail={"name": name, "role": role}, now=now)
    return credentials.compose("fwt", token_id, secret)


def authenticate_api_token(store: Store, token: str, now: datetime) -> ApiPrincipal | None:
    """The principal for a valid, unexpired, unrevoked token; None otherwise (never says why)."""
    parsed = credentials.parse("fwt", token)
    if parsed is None:
        return None
    token_id, secret = parsed
    table = api_tokens.c
    with store.read() as session:
        row = session.execute(
            select(table.name, table.role, table.client, table.secret_hash, table.expires_at,
                   table.revoked_at, table.last_used_at).where(table.id == token_id)).one_or_none()
    if row is None or not credentials.matches(secret, row.secret_hash):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION:
        with store.write() as session:
            session.execute(update(api_tokens).where(table.id == token_id).values(last_used_at=now))
    return ApiPrincipal(token_id=token_id, name=row.name, role=row.role, client=row.client)


def revoke_token(store: Store, token_id: str, *, now: datetime, actor: str = "cli",
                 actor_kind: ActorKind = "cli", client: str | None = None) -> None:
    """Revoke an enrolment (``e_…``) or API (``t_…``) token. Revoking twice is harmless.

    ``client`` is the caller's scope: a client-scoped caller cannot touch other clients' tokens.
    """
    table = {"e_": enrollment_tokens, "t_": api_tokens}.get(token_id[:2])
    if table is None:
        raise NotFound(f"token id {token_id!r} is not an enrolment (e_…) or API (t_…) token id",
                       hint="see 'fleetward token list'")
    with store.write() as session:
        row = session.execute(
            select(table.c.client, table.c.revoked_at).where(table.c.id == token_id)).one_or_none()
        if row is None or (client is not None and row.client != client):
            raise NotFound(f"token {token_id} does not exist", hint="see 'fleetward token list'")
        if row.revoked_at is None:
            session.execute(update(table).where(table.c.id == token_id).values(revoked_at=now))
            record_audit(session, actor=actor, actor_kind=actor_kind, action="token.revoked", target=token_id,
                         client=row.client, now=now)


def list_tokens(store: Store, client: str | None = None) -> list[TokenInfo]:
    """Every enrolment and API token (of ``client`` only, when given), oldest first."""
    enrol, api = enrollment_tokens.c, api_tokens.c
    enrol_query = select(enrol.id, enrol.client, enrol.created_by, enrol.created_at, enrol.expires_at,
                         enrol.revoked_at, enrol.uses, enrol.max_uses)
    api_query = select(api.id, api.client, api.role, api.name, api.created_at, api.expires_at, api.revoked_at,
                       api.last_used_at)
    if client is not None:
        enrol_query = enrol_query.where(enrol.client == client)
        api_query = api_query.where(api.client == client)
    with store.read() as session:
        enrol_rows = session.execute(enrol_query).all()
        api_rows = session.execute(api_query).all()
    found = [TokenInfo(row.id, "enrolment", row.client, "enrol", row.created_by, row.created_at,
                       row.expires_at, row.revoked_at, row.uses, row.max_uses, None) for row in enrol_rows]
    found += [TokenInfo(row.id, "api", row.client, row.role, row.name, row.created_at, row.expires_at,
                        row.revoked_at, None, None, row.last_used_at) for row in api_rows]
    return sorted(found, key=lambda info: (info.created_at, info.id))
