"""Alembic environment: run by :func:`controller.store.engine.run_migrations`, never by hand.

The caller passes an open connection (inside a transaction, with the SQLite
pragmas and the PostgreSQL advisory lock already in place) through
``config.attributes["connection"]``; there is no ``alembic.ini`` and no URL here.

To write a new migration, change ``controller/store/tables.py`` and add a file under
``versions/`` by hand, using ``script.py.mako`` as the template; the
``test_models_match_migrations`` test fails until the two agree.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from controller.store.tables import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations with 'fleetward db upgrade' (controller.store.upgrade), not alembic")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
