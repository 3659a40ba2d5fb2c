"""What request handlers need, passed in explicitly: store, signer, clock, settings, notifications.

Built once by ``controller.serving`` (or a test) and attached to the FastAPI app;
handlers get it through the ``context`` dependency. Nothing here is global.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from controller.agent_config import AgentConfigCache
from controller.api.principals import PrincipalCache
from controller.desired import DesiredState
from controller.gitsource import RepoMirror
from controller.ingesting import AlertRecorder, InventoryIngester, SeenStamper
from controller.jobs.signing import JobSigner
from controller.policies.bundling import PolicyBundles
from controller.policies.pending import PendingRuns
from controller.reconciling import SourceHealth
from controller.settings import ControllerSettings
from controller.store import Store


class ReconcileNotifier(Protocol):
    """How the API tells the reconciler that something happened (thread-safe)."""

    def agent_changed(self, agent_id: str) -> None: ...

    def request_full(self) -> None: ...

    async def wait_for_jobs(self, agent_id: str, timeout: float) -> None: ...


class NoNotifier:
    """For tools that serve the API without a reconciler (tests, benchmarks)."""

    def agent_changed(self, agent_id: str) -> None:
        return None

    def request_full(self) -> None:
        return None

    async def wait_for_jobs(self, agent_id: str, timeout: float) -> None:
        return None


@dataclass
class ApiContext:
    store: Store
    signer: JobSigner
    settings: ControllerSettings
    clock: Callable[[], datetime]
    notifier: ReconcileNotifier = field(default_factory=NoNotifier)
    source_health: Callable[[], SourceHealth] = lambda: SourceHealth(ok=True)
    principals: PrincipalCache = field(default_factory=PrincipalCache)
    desired_state: Callable[[], DesiredState | None] = lambda: None
    """The applied revision, as the reconciler holds it (None before the first apply)."""
    agent_configs: AgentConfigCache = field(default_factory=AgentConfigCache)
    ingester: InventoryIngester | None = None
    """Batches inventory reports into shared transactions (None: each report on its own)."""
    seen: SeenStamper | None = None
    """Writes agents' check-in times off the request path (None: the request writes it)."""
    alert_recorder: AlertRecorder | None = None
    """Batches agents' alert reports into shared transactions and tells the ticket worker once a batch
    (None: each report on its own, then ``alerts_changed``)."""
    mirror: RepoMirror | None = None
    """The controller's clone of the fleet repository (None in tools that serve no repository)."""
    request_fetch: Callable[[], None] = lambda: None
    """Ask the reconciler to fetch now (webhooks, API writes)."""
    webhook_secret: Callable[[], bytes | None] = lambda: None
    """The shared secret webhooks must prove (None: webhooks are refused)."""
    policy_bundles: PolicyBundles | None = None
    """Each agent's policies (None: built here)."""
    pending_runs: PendingRuns | None = None
    alerts_changed: Callable[[Iterable[int]], None] = lambda alert_ids: None
    """Tell the ticket worker which alerts were just stored (after their commit)."""

    def __post_init__(self) -> None:
        if self.policy_bundles is None:
            self.policy_bundles = PolicyBundles()
        if self.pending_runs is None:
            self.pending_runs = PendingRuns(self.store, self.now)

    @property
    def bundles(self) -> PolicyBundles:
        assert self.policy_bundles is not None
        return self.policy_bundles

    @property
    def runs(self) -> PendingRuns:
        assert self.pending_runs is not None
        return self.pending_runs

    def now(self) -> datetime:
        return self.clock()
