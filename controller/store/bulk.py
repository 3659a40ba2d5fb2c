"""Bulk inserts that convert each distinct value once, not once per row.

SQLAlchemy converts every bound value through its column type on every row: for a
150-package inventory that is 150 conversions of the same "now" timestamp and of the
same few install dates, plus a dictionary per row, which is most of the CPU an
inventory write costs. :class:`BulkInsert` compiles the statement once per table,
columns and dialect; the caller builds plain tuples and passes values that need a
conversion through :meth:`BulkInsert.value`, which converts each distinct value once;
the rows go to the driver's ``executemany`` directly (on PostgreSQL, ``COPY``). The
stored values are exactly what SQLAlchemy would have stored (the same type converters,
the same compiled SQL or columns).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from sqlalchemy import JSON, Table, bindparam, insert
from sqlalchemy.engine import Connection

_compiled: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple[int, ...] | None]] = {}


class BulkInsert:
    """``INSERT INTO table (columns) VALUES ...`` for many tuples in one ``executemany``."""

    def __init__(self, connection: Connection, table: Table, columns: Sequence[str]) -> None:
        self.connection = connection
        self.columns = tuple(columns)
        dialect = connection.dialect
        key = (dialect.name, table.name, self.columns)
        if key not in _compiled:
            compiled = insert(table).values({name: bindparam(name) for name in self.columns}).compile(dialect=dialect)
            order = (tuple(self.columns.index(name) for name in compiled.positiontup or ())
                     if compiled.positional else None)
            _compiled[key] = (str(compiled), order)
        self.sql, self.order = _compiled[key]
        self.target = dialect.identifier_preparer.format_table(table)
        self.copy_sql: str | None = None
        if dialect.name == "postgresql":
            # COPY is PostgreSQL's bulk path: one stream instead of a round of protocol
            # messages per row, which is what executemany costs there.
            quote = dialect.identifier_preparer.quote
            self.copy_sql = (f"COPY {dialect.identifier_preparer.format_table(table)} "
                             f"({', '.join(quote(name) for name in self.columns)}) FROM STDIN")
        self._processors: dict[str, Callable[[Any], Any] | None] = {
            name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.columns}
        if self.copy_sql is not None:
            # COPY takes JSON as text. The driver's JSON wrapper would serialise again at every row,
            # so a value converted once (an installer shared by thousands of jobs) would not stay so.
            self._processors.update({name: json.dumps for name in self.columns
                                     if isinstance(table.c[name].type, JSON)})
        self._seen: dict[tuple[str, Hashable], Any] = {}

    def value(self, column: str, value: Any) -> Any:
        """``value`` as the driver should receive it for ``column`` (converted once per distinct value)."""
        processor = self._processors[column]
        if processor is None or value is None:
            return value
        key = (column, value)
        found = self._seen.get(key, self)
        if found is self:
            found = self._seen[key] = processor(value)
        return found

    def each(self, column: str, value: Any) -> Any:
        """``value`` converted for ``column`` on every call: for values that cannot be remembered
        (dicts for JSON columns). ``None`` goes through the converter too, so a JSON column stores
        JSON ``null`` for it, as SQLAlchemy's own insert does."""
        processor = self._processors[column]
        return value if processor is None else processor(value)

    def execute(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert ``rows``: tuples in the order of ``columns``, converted values already in place."""
        if not rows:
            return
        if self.copy_sql is not None:
            cursor = self.connection.connection.cursor()
            try:
                with cursor.copy(self.copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            finally:
                cursor.close()
        elif self.order is None:
            self.connection.exec_driver_sql(self.sql, [dict(zip(self.columns, row, strict=True)) for row in rows])
        elif self.order == tuple(range(len(self.columns))):
            self.connection.exec_driver_sql(self.sql, list(rows))
        else:
            self.connection.exec_driver_sql(self.sql, [tuple(row[index] for index in self.order) for row in rows])

    def upsert(self, rows: Sequence[tuple[Any, ...]], *, keys: Sequence[str], update: Sequence[str]) -> None:
        """PostgreSQL only: insert ``rows``, overwriting the ``update`` columns where ``keys`` exist.

        The rows are copied into a temporary table and merged with one ``INSERT .. SELECT ..
        ON CONFLICT DO UPDATE``: an ``executemany`` upsert is a protocol round per row there.
        """
        if self.copy_sql is None:
            raise ValueError("BulkInsert.upsert is PostgreSQL's path; use statements.upsert elsewhere")
        if not rows:
            return
        # Every name below is a table or column of the metadata (quoted) or made here: no input.
        quote = self.connection.dialect.identifier_preparer.quote
        staging = f"bulk_upsert_{secrets.token_hex(6)}"
        names = ", ".join(quote(name) for name in self.columns)
        self.connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {names} FROM {self.target} WITH NO DATA")
        cursor = self.connection.connection.cursor()
        try:
            with cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        assignments = ", ".join(f"{quote(name)} = EXCLUDED.{quote(name)}" for name in update)
        self.connection.exec_driver_sql(
            f"INSERT INTO {self.target} ({names}) SELECT {names} FROM {staging} "  # noqa: S608
            f"ON CONFLICT ({', '.join(quote(name) for name in keys)}) DO UPDATE SET {assignments}")
        self.connection.exec_driver_sql(f"DROP TABLE {staging}")
