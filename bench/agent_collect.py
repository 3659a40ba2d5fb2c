"""How much one full inventory collection costs the machine: CPU and peak memory.

Each run is a fresh Python process that imports the agent and collects every section exactly as
``fleetward-agent inventory`` does (low-priority thread, real dpkg/rpm/snap/flatpak, hardware,
licences, passive network discovery), then reports its own resource use; the parent also reads the
child's rusage from ``wait4`` (which includes the tools the child ran). Printed: medians over N runs of

* collection CPU (user+sys of the collecting thread and the tools it ran) against the 2 s target,
* whole-process CPU including interpreter start-up and imports (wait4),
* peak RSS of the process and its children (ru_maxrss) against the 60 MB target,
* CPU per section.

    python bench/agent_collect.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CPU_TARGET_SECONDS = 2.0
RSS_TARGET_MB = 60.0

CHILD = r"""
import json, resource, sys
from agent.inventory import collect_inventory
from agent.throttling import run_at_low_priority
inventory, used = run_at_low_priority(lambda: collect_inventory(None))
me = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
json.dump({"collection_cpu": used, "sections": dict(inventory.cpu_seconds), "failed": list(inventory.failed),
           "software": len(inventory.software or []),
           "peak_rss_kb": max(me.ru_maxrss, kids.ru_maxrss)}, sys.stdout)
"""


def one_run() -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, env=env, cwd=REPO)
    assert child.stdout is not None
    out = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the collection process failed with exit code {child.returncode}")
    result: dict[str, object] = json.loads(out)
    result["process_cpu"] = usage.ru_utime + usage.ru_stime
    result["process_peak_rss_kb"] = usage.ru_maxrss
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    runs = [one_run() for _ in range(max(1, args.runs))]

    def median(key: str) -> float:
        return statistics.median(float(run[key]) for run in runs)  # type: ignore[arg-type]

    collection, process = median("collection_cpu"), median("process_cpu")
    rss_mb = max(median("peak_rss_kb"), median("process_peak_rss_kb")) / 1024
    print(f"{len(runs)} runs, {runs[0]['software']} software items, failed sections: {runs[0]['failed'] or 'none'}")
    print(f"collection CPU (thread + tools), median: {collection:.2f} s   target <= {CPU_TARGET_SECONDS:.0f} s  "
          f"{'ok' if collection <= CPU_TARGET_SECONDS else 'OVER'}")
    print(f"whole process CPU incl. start-up, median: {process:.2f} s")
    print(f"peak RSS incl. children, median: {rss_mb:.1f} MB   target <= {RSS_TARGET_MB:.0f} MB  "
          f"{'ok' if rss_mb <= RSS_TARGET_MB else 'OVER'}")
    sections = runs[0]["sections"]
    assert isinstance(sections, dict)
    for name in sections:
        values = [float(run["sections"][name]) for run in runs]  # type: ignore[index]
        print(f"  {name:<9} {statistics.median(values):.3f} s")


if __name__ == "__main__":
    main()
