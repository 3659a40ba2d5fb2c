"""The policy part of a status snapshot: compliance per client and policy, failing checks per device.

Two set-based reads (one aggregate, one over the non-compliant current results), so the status
round stays bounded however many devices and policies there are.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from controller.policies.compliance import client_policy_counts
from controller.status.snapshot import FailingCheck, PolicyCompliance
from controller.store import Store
from controller.store.policies import failing_checks

MAX_FAILING_PER_DEVICE = 50


@dataclass(frozen=True)
class PolicySummaries:
    by_client: dict[str, tuple[PolicyCompliance, ...]]
    failing: dict[str, tuple[FailingCheck, ...]]


def collect_policies(store: Store) -> PolicySummaries:
    by_client: dict[str, list[PolicyCompliance]] = defaultdict(list)
    for (client, policy), counts in sorted(client_policy_counts(store).items()):
        by_client[client].append(PolicyCompliance(policy, counts.compliant, counts.non_compliant, counts.error,
                                                  counts.not_applicable, counts.unknown))
    failing: dict[str, list[FailingCheck]] = defaultdict(list)
    for row in failing_checks(store, None):
        for check in row["failing"]:
            if check.get("status") in ("non_compliant", "error") and \
                    len(failing[row["agent_id"]]) < MAX_FAILING_PER_DEVICE:
                failing[row["agent_id"]].append(FailingCheck(
                    row["policy_id"], row["status"], row["mode"], str(check.get("name", "")),
                    str(check["status"]), str(check.get("evidence", ""))))
    return PolicySummaries({client: tuple(lines) for client, lines in by_client.items()},
                           {agent: tuple(lines) for agent, lines in failing.items()})
