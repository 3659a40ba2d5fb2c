"""How long loading a revision takes: N small resources from a folder and from git objects.

Run: ``python bench/loading.py [--resources 10000] [--per-file 50]``. Prints figures, asserts
nothing. The fleet is one client with half Packages and half Deployments that use them,
``--per-file`` documents to a file, as a large MSP repository might be laid out.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from controller.loading import DirectorySource, GitTreeSource, load_revision

CLIENT = """\
apiVersion: fleetward/v1
kind: Client
metadata: {name: acme}
spec: {displayName: ACME Corp}
---
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {name: linux-boxes}
spec:
  selector: {matchLabels: {os: linux}}
"""

PAIR = """\
apiVersion: fleetward/v1
kind: Package
metadata: {{name: tool-{n}}}
spec:
  version: "1.0.{n}"
  installers:
    - os: linux
      type: archive
      url: https://artifacts.example.com/tool-{n}.tar.gz
      sha256: "{sha}"
---
apiVersion: fleetward/v1
kind: Deployment
metadata: {{name: tool-{n}-on-linux}}
spec:
  package: tool-{n}
  targets: {{group: linux-boxes}}
"""


def write_fleet(root: Path, resources: int, per_file: int) -> None:
    folder = root / "clients" / "acme"
    folder.mkdir(parents=True)
    (folder / "client.yaml").write_text(CLIENT)
    pairs = [PAIR.format(n=n, sha=f"{n:064x}") for n in range(resources // 2)]
    per = max(1, per_file // 2)
    for start in range(0, len(pairs), per):
        (folder / f"tools-{start // per:05d}.yaml").write_text("---\n".join(pairs[start:start + per]))


def timed(label: str, source: DirectorySource | GitTreeSource) -> None:
    started = time.perf_counter()
    desired = load_revision(source)
    elapsed = time.perf_counter() - started
    count = sum(len(table) for table in desired.resources.values())
    print(f"{label:>10}: {count} resources in {elapsed:.2f} s ({elapsed / count * 1e6:.0f} µs each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--per-file", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_fleet(root, args.resources, args.per_file)
        timed("folder", DirectorySource(root))
        env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@invalid",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@invalid"}
        for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
            subprocess.run(["git", "-C", folder, *command], check=True, env=env)
        timed("git", GitTreeSource(root, "main"))


if __name__ == "__main__":
    main()
