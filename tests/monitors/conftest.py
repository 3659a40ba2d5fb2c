"""A migrated store on each engine, as the store tests have it."""

from tests.store.conftest import store  # noqa: F401 (fixture used by name)
