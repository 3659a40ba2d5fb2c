"""Plan every proposal head and publish the plans; recognise a merged proposal when it is applied.

Proposal heads are the branches matching the Fleet's ``proposals`` patterns (default
``pr/*`` and ``proposals/*``) plus the remote's GitHub ``refs/pull/*/head`` and GitLab
``refs/merge-requests/*/head``. They are planned, never applied. A head is planned again
when it moves, when the applied revision changes, or on the slow full-reconcile interval
(the observed state moves too). Deleted or force-pushed heads lose or replace their plan.

When a revision is applied whose tree equals a planned proposal head's tree (a
fast-forward, merge or squash of that proposal), the plan is recomputed against the
current observed state and compared with what was published; any difference is recorded
with the revision, so nothing changes silently between review and apply.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from controller.desired import DesiredState
from controller.errors import ConfigError, RevisionInvalid
from controller.gitsource import RepoMirror
from controller.loading import GitTreeSource, ParseCache, load_revision
from controller.observed import ObservedState
from controller.planning import Plan
from controller.planning.reviewing import Review, invalid_review, review
from controller.reports.reviews import review_json, review_markdown
from controller.secrets import SealedSecrets, require_openable
from controller.settings import ControllerSettings
from controller.store import (
    ProposalPlanRow,
    Store,
    forget_proposal_plans,
    note_applied_plan,
    plan_for_tree,
    read_observed,
    save_proposal_plan,
)
from schemas.fleet import DEFAULT_PROPOSALS, DEFAULT_STATUS_BRANCH

log = logging.getLogger(__name__)

REVIEW_REF_PATTERNS = ("pull/*/head", "merge-requests/*/head")


def is_proposal(branch: str, patterns: Collection[str]) -> bool:
    return any(fnmatch.fnmatchcase(branch, pattern) for pattern in patterns)


def job_keys(jobs: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    return {(j["agent_id"], j["action"], j["package"], j["version"]) for j in jobs}


class Proposals:
    def __init__(self, settings: ControllerSettings, store: Store, mirror: RepoMirror,
                 clock: Callable[[], datetime], parse_cache: ParseCache | None = None,
                 rebase_interval: float = 30.0, sealed: SealedSecrets | None = None) -> None:
        self.settings = settings
        self.parse_cache = parse_cache
        self.store = store
        self.mirror = mirror
        self.clock = clock
        self._planned: dict[str, tuple[str, str | None, float]] = {}
        """branch -> (head, applied revision, monotonic time) it was last planned for."""
        self.rebase_interval = rebase_interval
        self.sealed = sealed
        self.plans_made = 0

    def heads(self, applied: DesiredState | None, branches: dict[str, str]) -> dict[str, str]:
        """The proposal heads among ``branches`` and the remote's review refs."""
        fleet = applied.fleet if applied is not None else None
        patterns = fleet.proposals if fleet is not None else list(DEFAULT_PROPOSALS)
        never = {self.settings.branch, fleet.status_branch if fleet else DEFAULT_STATUS_BRANCH}
        found = {branch: sha for branch, sha in branches.items()
                 if branch not in never and is_proposal(branch, patterns)}
        found.update({ref: sha for ref, sha in self.mirror.reviews().items()
                      if is_proposal(ref, REVIEW_REF_PATTERNS)})
        return found

    def sync(self, applied: DesiredState | None, branches: dict[str, str], *, force: bool = False) -> list[str]:
        """Plan new or moved heads, drop plans of vanished ones; returns the branches planned."""
        heads = self.heads(applied, branches)
        for gone in forget_proposal_plans(self.store, keep=heads):
            log.info("proposal %s is gone; its plan was removed", gone)
        for branch in list(self._planned):
            if branch not in heads:
                del self._planned[branch]
        base = applied.revision if applied is not None else None
        moment = time.monotonic()

        def is_due(branch: str, sha: str) -> bool:
            planned = self._planned.get(branch)
            if force or planned is None or planned[0] != sha:
                return True  # new or moved: plan at once
            # Only the applied revision moved: a busy main branch would otherwise re-plan every
            # proposal on every commit; once per rebase_interval keeps plans fresh enough.
            return planned[1] != base and moment - planned[2] >= self.rebase_interval

        due = [branch for branch, sha in sorted(heads.items()) if is_due(branch, sha)]
        if not due:
            return []
        now = self.clock()
        observed = read_observed(self.store, now=now)
        for branch in due:
            self.publish(branch, heads[branch], applied, observed, now)
            self._planned[branch] = (heads[branch], base, time.monotonic())
        return due

    def publish(self, branch: str, head: str, applied: DesiredState | None, observed: ObservedState,
                now: datetime) -> Review:
        try:
            proposed = load_revision(GitTreeSource(self.mirror.path, head, self.settings.path), self.parse_cache)
            if self.sealed is not None:
                proposed = require_openable(proposed, self.sealed)
            result = review(branch, head, applied, proposed, observed, now)
        except RevisionInvalid as invalid:
            result = invalid_review(branch, head, applied.revision if applied else None,
                                    [str(problem) for problem in invalid.problems])
        except ConfigError as error:
            result = invalid_review(branch, head, applied.revision if applied else None, [error.message])
        hostnames: dict[str, str] = {agent_id: agent.hostname for agent_id, agent in observed.agents.items()}
        devices = len(observed.agents)
        save_proposal_plan(self.store, ProposalPlanRow(
            branch=branch, head=head, base=result.base, tree=self.mirror.tree_of(head), valid=result.valid,
            markdown=review_markdown(result, hostnames=hostnames, devices=devices),
            data=review_json(result, hostnames=hostnames, devices=devices), planned_at=now))
        self.plans_made += 1
        log.info("planned proposal %s at %s: %s", branch, head[:12], "valid" if result.valid else "invalid")
        return result

    def published_for(self, sha: str) -> ProposalPlanRow | None:
        """The valid plan published for a proposal whose tree ``sha`` lands (read it before the
        proposals are planned again against the new base)."""
        row = plan_for_tree(self.store, self.mirror.tree_of(sha))
        return row if row is not None and row.data.get("plan") else None

    def note_if_merged(self, sha: str, row: ProposalPlanRow, applied_plan: Plan, hostnames: dict[str, str],
                       *, covered: Collection[str] | None = None) -> str:
        """After ``sha`` was applied: compare its plan with ``row``, the one published for review.

        ``covered`` are the agents ``applied_plan`` was computed for (None: all of them), as an
        incremental reconcile plans only the devices a commit can affect.
        """
        published = {key for key in job_keys(row.data["plan"]["jobs"]) if covered is None or key[0] in covered}
        actual: set[tuple[str, str, str, str]] = {
            (j.agent_id, j.action, j.package, j.version) for j in applied_plan.jobs}
        when = row.planned_at.isoformat(timespec="seconds")
        if published == actual:
            note = f"Applied exactly as planned for {row.branch} at {row.head[:12]} ({when})."
        else:
            def describe(keys: set[tuple[str, str, str, str]]) -> str:
                shown = sorted(f"{action} {package} {version} on {hostnames.get(agent, agent)}"
                               for agent, action, package, version in keys)
                return "; ".join(shown[:20]) + (f"; … {len(shown) - 20} more" if len(shown) > 20 else "")

            parts = [f"The plan differs from the one published for {row.branch} at {row.head[:12]} "
                     f"({when}) because the fleet changed in between."]
            if actual - published:
                parts.append(f"Added: {describe(actual - published)}.")
            if published - actual:
                parts.append(f"No longer needed: {describe(published - actual)}.")
            note = " ".join(parts)
        note_applied_plan(self.store, sha, note)
        return note
