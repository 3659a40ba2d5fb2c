"""Policy results as alerts, so a policy failing on a device can become a ticket like any alert.

One alert per device and policy, type ``agent.policy``, key ``policy:<agent id>:<policy id>``:

* raised when a run ends ``non_compliant`` or ``error``: ``warning`` when an enforced policy is still
  non-compliant after its remediation ran, or a check could not be evaluated; ``info`` for an
  ``audit`` policy, which reports and never changes the machine;
* refreshed (message and severity) by every later failing run, so an open ticket gains a note only
  when something changed;
* cleared by the first run that is ``compliant`` or ``not_applicable``.

Only the newest run of each policy in a report counts: an agent that was offline may deliver several.
The ids of the alerts raised or cleared go back to the caller, which hands them to the ticket worker
(as the agent alert route does), so a rule opens the ticket at once, not at the worker's next pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from controller.store import Store, clear_alert, raise_alert
from controller.store.alerts import Severity
from schemas.protocol import PolicyResult

ALERT_TYPE = "agent.policy"
FAILING = ("non_compliant", "error")
MAX_LISTED_CHECKS = 5


def alert_key(agent_id: str, policy_id: str) -> str:
    return f"policy:{agent_id}:{policy_id}"


def apply_policy_alerts(store: Store, agent_id: str, client: str, results: Sequence[PolicyResult],
                        now: datetime) -> list[int]:
    """Raise or clear each reported policy's alert for this agent from its newest run; the ids of the
    alerts raised, refreshed or cleared."""
    newest: dict[str, PolicyResult] = {}
    for result in results:
        held = newest.get(result.policy_id)
        if held is None or result.finished_at >= held.finished_at:
            newest[result.policy_id] = result
    touched: list[int] = []
    for policy_id, result in sorted(newest.items()):
        key = alert_key(agent_id, policy_id)
        observed = min(result.finished_at, now)
        if result.status not in FAILING:
            if (cleared := clear_alert(store, key, now, observed_at=observed)) is not None:
                touched.append(cleared)
            continue
        failing = [check for check in result.checks if check.status in FAILING]
        names = ", ".join(check.name for check in failing[:MAX_LISTED_CHECKS])
        more = f" and {len(failing) - MAX_LISTED_CHECKS} more" if len(failing) > MAX_LISTED_CHECKS else ""
        verdict = "could not be evaluated" if result.status == "error" else "is not compliant"
        message = f"Policy {policy_id} {verdict} ({len(failing)} of {len(result.checks)} checks: {names}{more})"
        severity: Severity = "info" if result.mode == "audit" and result.status == "non_compliant" else "warning"
        detail = {"policy": policy_id, "version": result.version, "mode": result.mode,
                  "checks": [{"name": check.name, "type": check.type, "status": check.status,
                              "evidence": check.evidence, "remediation": check.remediation}
                             for check in failing]}
        alert_id, _new = raise_alert(store, client=client, agent_id=agent_id, type=ALERT_TYPE, severity=severity,
                                     key=key, message=message, detail=detail, now=now, observed_at=observed)
        touched.append(alert_id)
    return touched
