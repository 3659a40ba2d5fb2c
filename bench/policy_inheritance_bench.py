"""What policy inheritance costs: loading with conflict checks, and resolving who receives which variant.

Run: ``python bench/policy_inheritance_bench.py [--clients 300] [--agents 10000]``. Prints figures,
asserts nothing. The fleet: 20 MSP-wide baselines of 5 checks each (service, file, registry,
package, firewall; one identity each, so checks of different baselines never meet), every client
overriding 10 of them (mode and one check replaced) and adding 3 policies of its own whose checks
agree with the baselines (so every pair is compared and none is a conflict).

Figures, median of 5: the whole load (``load_revision``), the conflict step alone
(``conflict_problems``), ``effective_policies``, and targeting every agent with every variant
(``assigned_policies``, what assignment does per reconcile for all agents).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from controller.loading import DirectorySource, load_revision
from controller.loading.checking import scope_of
from controller.loading.conflicting import conflict_problems
from controller.loading.files import load_file
from controller.observed import ObservedAgent
from controller.planning.inheriting import effective_policies
from controller.policies.bundling import assigned_policies
from schemas.ids import AgentId

BASELINE = """\
apiVersion: fleetward/v1
kind: Policy
metadata: {{name: baseline-{n}}}
spec:
  targets: {{group: all-linux}}
  checks:
    - {{name: svc, type: service, service: svc-{n}, startMode: automatic}}
    - {{name: file, type: file, path: /etc/baseline-{n}, mode: "0644"}}
    - {{name: reg, type: registry, key: 'HKLM\\SOFTWARE\\B{n}', value: On, equals: 1}}
    - {{name: pkg, type: package, package: tool-{n}, version: ">=1.0"}}
    - {{name: fw, type: firewall}}
"""

OVERRIDE = """\
apiVersion: fleetward/v1
kind: Policy
metadata: {{name: tuned-{n}}}
spec:
  overrides: baseline-{n}
  mode: enforce
  checks:
    - {{name: file, type: file, path: /etc/baseline-{n}, mode: "0644", owner: root}}
  exclude: {{selector: {{matchLabels: {{role: kiosk}}}}}}
"""

OWN = """\
apiVersion: fleetward/v1
kind: Policy
metadata: {{name: own-{n}}}
spec:
  targets: {{group: all-linux}}
  checks:
    - {{name: svc, type: service, service: svc-{n}}}
    - {{name: pkg, type: package, package: tool-{n}, version: "1.2"}}
"""


def write_fleet(root: Path, clients: int) -> None:
    (root / "groups.yaml").write_text("apiVersion: fleetward/v1\nkind: DeviceGroup\nmetadata: {name: all-linux}\n"
                                      "spec:\n  selector: {matchLabels: {os: linux}}\n")
    (root / "baselines.yaml").write_text("---\n".join(BASELINE.format(n=n) for n in range(20)))
    for index in range(clients):
        folder = root / "clients" / f"client-{index:04d}"
        folder.mkdir(parents=True)
        (folder / "client.yaml").write_text(f"apiVersion: fleetward/v1\nkind: Client\nmetadata: {{name: "
                                            f"client-{index:04d}}}\nspec: {{displayName: Client {index}}}\n")
        (folder / "policies.yaml").write_text("---\n".join(
            [OVERRIDE.format(n=n) for n in range(10)] + [OWN.format(n=n) for n in range(3)]))


def median_ms(run: Callable[[], object], rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--agents", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_fleet(root, args.clients)
        source = DirectorySource(root)
        desired = load_revision(source)
        candidates = [candidate for file in source.files()
                      for candidate in load_file(file, scope_of(file.path)[0]).candidates]
        agents = [ObservedAgent(agent_id=AgentId(f"a{n:06d}"), client=f"client-{n % args.clients:04d}",
                                hostname=f"h{n}", labels={"os": "linux", "role": "kiosk" if n % 10 == 0 else "pc"})
                  for n in range(args.agents)]
        variants = effective_policies(desired)
        policies = len(desired.resources.get("Policy", {}))
        print(f"{args.clients} clients, {policies} Policies, {len(variants)} variants, {args.agents} agents; "
              f"load average {os.getloadavg()[0]:.2f}")
        load = median_ms(lambda: load_revision(source), rounds=3)
        conflicts = median_ms(lambda: conflict_problems(candidates, desired))
        effective = median_ms(lambda: effective_policies(desired))
        assigning = median_ms(lambda: assigned_policies(desired, agents, variants), rounds=3)
        print(f"load_revision        {load:9.1f} ms")
        print(f"conflict_problems    {conflicts:9.1f} ms  ({conflicts / load:.1%} of the load)")
        print(f"effective_policies   {effective:9.1f} ms")
        print(f"assigned_policies    {assigning:9.1f} ms  (every agent x every variant)")


if __name__ == "__main__":
    main()
