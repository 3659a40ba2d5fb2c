"""A store with enrolled devices and their hardware rows, sealed vendor credentials, a clock that moves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from controller.desired import DesiredState
from controller.secrets import KeyFolder, SealedSecrets, seal
from controller.store import Store, create_enrollment_token, enroll_agent
from controller.store.tables import asset_warranties, hardware_inventory
from schemas.fleet import FleetSpec
from schemas.protocol import Facts
from tests.support.resources import desired, resource

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Fleet:
    """The test's store, sealing keys and applied revision, with helpers to add devices and records."""

    store: Store
    sealed: SealedSecrets
    keys: KeyFolder
    clock: Clock
    applied: DesiredState | None = None
    _hosts: int = 0

    def seal(self, text: str) -> str:
        return seal(text, self.keys.keyring().sealing_key)

    def device(self, manufacturer: str, serial: str, *, client: str = "acme", model: str = "Model X",
               hostname: str | None = None) -> str:
        self._hosts += 1
        host = hostname or f"host{self._hosts}"
        token = create_enrollment_token(self.store, client, created_by="tests", now=NOW)
        agent_id = enroll_agent(self.store, token, Facts(hostname=host, os="windows"), {}, NOW).agent_id
        with self.store.write() as session:
            session.execute(insert(hardware_inventory), [{
                "agent_id": agent_id, "client": client, "manufacturer": manufacturer, "model": model,
                "serial": serial, "cpu_model": "", "cpu_cores": 4, "memory_bytes": 8 << 30, "disk_bytes": 256 << 30,
                "os_name": "Windows 11", "os_version": "23H2", "data": {}, "updated_at": NOW}])
        return agent_id

    def apply(self, warranty: dict[str, Any] | None = None, records: list[tuple[str | None, dict[str, Any]]] = (),
              revision: str = "a" * 40) -> DesiredState:
        """Make a revision with ``spec.warranty`` and Warranty records (scope, spec) the applied one."""
        state = desired([(scope, resource("Warranty", f"w{i}", spec)) for i, (scope, spec) in enumerate(records)],
                        revision=revision)
        fleet = FleetSpec.model_validate({"warranty": warranty or {}})
        self.applied = DesiredState(revision=state.revision, fleet=fleet, resources=state.resources)
        return self.applied

    def row(self, serial: str) -> dict[str, Any] | None:
        with self.store.read() as session:
            found = session.execute(select(*asset_warranties.c).where(asset_warranties.c.serial == serial)).first()
        return dict(found._mapping) if found is not None else None


@pytest.fixture
def fleet(tmp_path, database_url) -> Iterator[Fleet]:
    store = Store.open(database_url)
    keys = KeyFolder(tmp_path / "keys")
    keys.ensure()
    try:
        yield Fleet(store=store, sealed=SealedSecrets(keys), keys=keys, clock=Clock())
    finally:
        store.close()
