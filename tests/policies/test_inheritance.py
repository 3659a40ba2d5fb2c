"""Resolving inheritance: which variant of a policy each device receives, and which devices are excluded.

Real revisions loaded from folders; agents as the planner sees them. The bundle an agent fetches
and the assignments compliance counts are both built from this resolution.
"""

from __future__ import annotations

from controller.loading import DirectorySource, load_revision
from controller.observed import ObservedAgent
from controller.planning.inheriting import effective_policies, policy_targets
from controller.planning.targeting import Targeting
from controller.policies.bundling import PolicyBundles, policy_entry
from schemas.checks import DiskFreeCheck
from schemas.ids import AgentId
from tests.loading.test_policy_inheritance import BASELINES, GROUPS, LIBRARY, policy
from tests.support.fleets import ACME_CLIENT
from tests.support.gitrepos import write_files

GLOBEX_CLIENT = ACME_CLIENT.replace("acme", "globex").replace("ACME Corp", "Globex")


def agent(agent_id: str, client: str, **labels: str) -> ObservedAgent:
    return ObservedAgent(agent_id=AgentId(agent_id), client=client, hostname=agent_id,
                         labels={"os": "linux", "client": client, "hostname": agent_id, **labels})


AGENTS = [agent("acme-1", "acme"), agent("acme-kiosk", "acme", role="kiosk"), agent("build-01", "acme"),
          agent("acme-lab", "acme", lab="yes"), agent("globex-1", "globex"),
          agent("globex-kiosk", "globex", role="kiosk")]


def load(tmp_path, override: str):
    write_files(tmp_path, {"clients/acme/client.yaml": ACME_CLIENT, "clients/globex/client.yaml": GLOBEX_CLIENT,
                           "groups.yaml": GROUPS, "library/roomy.yaml": LIBRARY,
                           "scripts/clean-temp.sh": "#!/bin/bash\n", "baselines.yaml": BASELINES,
                           "clients/acme/override.yaml": override})
    return load_revision(DirectorySource(tmp_path))


OVERRIDE = policy("  overrides: disk-baseline\n  mode: enforce\n  schedule: {every: 15m}\n  params: {min_free: 25}\n"
                  "  exclude: {devices: [build-01], selector: {matchLabels: {lab: 'yes'}}}\n")


def test_each_client_gets_the_baseline_or_its_own_override_and_exclusions_remove_targets(tmp_path):
    desired = load(tmp_path, OVERRIDE)
    targeting = Targeting(desired, AGENTS)
    variants = {effective.key: effective for effective in effective_policies(desired)
                if effective.ref == "disk-baseline"}
    assert set(variants) == {("disk-baseline", None), ("disk-baseline", "acme")}
    baseline, acme = variants[("disk-baseline", None)], variants[("disk-baseline", "acme")]

    # The baseline's kiosk exclusion holds everywhere; acme's own exclusions only for acme.
    assert policy_targets(targeting, baseline) == {"globex-1"}
    assert policy_targets(targeting, acme) == {"acme-1"}

    # What the override does not set is inherited; what it sets wins.
    assert (baseline.spec.mode, baseline.spec.schedule.interval) == ("audit", "1h")
    assert (acme.spec.mode, acme.spec.schedule.interval, acme.spec.params) == ("enforce", "15m", {"min_free": 25})
    (room,) = acme.checks
    assert isinstance(room, DiskFreeCheck) and room.min_free_percent == 25


def test_the_agent_receives_the_variant_under_the_baselines_id_and_excluded_agents_receive_nothing(tmp_path):
    desired = load(tmp_path, OVERRIDE)
    bundles = PolicyBundles()

    def received(one: ObservedAgent) -> dict[str, str]:
        bundle = bundles.bundle(desired, one.agent_id, one.client, one.labels)
        return {bundled.id: bundled.mode for bundled in bundle.policies}

    assert received(AGENTS[0]) == {"disk-baseline": "enforce", "files-baseline": "audit"}
    assert received(AGENTS[4]) == {"disk-baseline": "audit", "files-baseline": "audit"}
    for excluded in (AGENTS[1], AGENTS[2], AGENTS[3], AGENTS[5]):
        assert "disk-baseline" not in received(excluded)
    entries = bundles.entries(desired)
    assert entries[("disk-baseline", "acme")].policy.version != entries[("disk-baseline", None)].policy.version
    assert bundles.assigned(desired, "acme-1", "acme", AGENTS[0].labels) == ("disk-baseline", "files-baseline")


def test_an_override_that_only_excludes_keeps_the_baselines_version(tmp_path):
    desired = load(tmp_path, policy("  overrides: disk-baseline\n  exclude: {devices: [build-01]}\n"))
    variants = {effective.key: effective for effective in effective_policies(desired)}
    baseline, acme = variants[("disk-baseline", None)], variants[("disk-baseline", "acme")]
    assert policy_entry(desired, acme).policy.version == policy_entry(desired, baseline).policy.version
    assert policy_targets(Targeting(desired, AGENTS), acme) == {"acme-1", "acme-lab"}
