"""The audit log: who did what to which thing, when and why (design principle 8).

Rows are append-only. :func:`record_audit` writes inside the caller's transaction
when given a session, so the audit row commits or rolls back with the change it
describes; given a :class:`Store` it opens its own transaction (for refusals that
must be recorded even though the request fails).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from controller.store.engine import Store
from controller.store.tables import audit_log

ActorKind = Literal["api-token", "agent", "commit", "cli", "system"]

MAX_AUDIT_PAGE = 1000
_MAX_TARGET = 500
_MAX_ACTOR = 253


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    actor: str
    actor_kind: ActorKind
    client: str | None
    action: str
    target: str
    detail: dict[str, Any] | None


def record_audit(session_or_store: Session | Store, *, actor: str, actor_kind: ActorKind, action: str,
                 target: str, client: str | None = None, detail: dict[str, Any] | None = None,
                 now: datetime) -> None:
    """Append one audit row. ``detail`` must be JSON-serialisable and must not hold secrets."""
    values = {
        "at": now, "actor": actor[:_MAX_ACTOR], "actor_kind": actor_kind, "client": client,
        "action": action, "target": target[:_MAX_TARGET], "detail": detail,
    }
    if isinstance(session_or_store, Store):
        with session_or_store.write() as session:
            session.execute(insert(audit_log).values(values))
    else:
        session_or_store.execute(insert(audit_log).values(values))


def list_audit(store: Store, client: str | None, limit: int = 100, *,
               before_id: int | None = None) -> list[AuditRecord]:
    """Newest first. A client-scoped caller sees only rows of that client (not MSP-wide ones)."""
    statement = select(*audit_log.c).order_by(audit_log.c.id.desc()).limit(max(1, min(limit, MAX_AUDIT_PAGE)))
    if client is not None:
        statement = statement.where(audit_log.c.client == client)
    if before_id is not None:
        statement = statement.where(audit_log.c.id < before_id)
    with store.read() as session:
        rows = session.execute(statement).mappings().all()
    return [AuditRecord.model_validate(dict(row)) for row in rows]
