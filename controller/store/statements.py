"""SQL building blocks the store modules share: chunked ``IN`` lists, upserts, new ids.

``IN`` lists are cut into chunks of :data:`CHUNK` because SQLite limits the number
of bound parameters per statement (and huge lists plan badly on PostgreSQL too).
Upserts use each dialect's ``INSERT .. ON CONFLICT DO UPDATE``; both dialects spell
the construct the same way, so callers stay dialect-free.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

T = TypeVar("T")

CHUNK = 500


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` values (sorted input stays sorted)."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def id_chunks(ids: Collection[str] | None) -> Iterator[list[str] | None]:
    """``None`` (meaning "all") once, or the ids in sorted chunks; nothing for an empty collection."""
    if ids is None:
        yield None
        return
    yield from chunks(sorted(set(ids)))


def new_id(prefix: str, hex_chars: int) -> str:
    return prefix + secrets.token_hex(hex_chars // 2)


def upsert(session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *,
           keys: Sequence[str], update: Sequence[str]) -> None:
    """Insert ``rows``; where ``keys`` already exist, overwrite the ``update`` columns instead."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={column: statement.excluded[column] for column in update})
    session.execute(statement, list(rows))
