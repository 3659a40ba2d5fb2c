"""A fleet for the writing tests: two clients, MSP-wide and client resources, hand-written files."""

from __future__ import annotations

from tests.support.fleets import ACME_CLIENT, minimal_fleet
from tests.writing.texts import RICH

GLOBEX_CLIENT = ACME_CLIENT.replace("acme", "globex").replace("ACME Corp", "Globex")

FLEET = """\
# yaml-language-server: $schema=.fleetward/schemas/resource.schema.json
apiVersion: fleetward/v1
kind: Fleet
metadata: {name: writing-tests}
spec:
  displayName: Writing tests
  apiWrites: {mode}
"""

MSP_LIBRARY = """\
apiVersion: fleetward/v1
kind: Script
metadata: {name: patch-check}
spec:
  shell: sh
  file: scripts/patch-check.sh
  os: [linux]
---
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {name: all-linux}
spec:
  selector: {matchLabels: {os: linux}}
---
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {name: servers}
spec:
  selector: {matchLabels: {role: server}}
---
apiVersion: fleetward/v1
kind: Policy
metadata: {name: patched}
spec:
  targets: {group: all-linux}
  checks:
    - {name: recent, script: patch-check}
"""

GLOBEX_POLICY = """\
apiVersion: fleetward/v1
kind: Policy
metadata: {name: backups}
spec:
  targets: {group: all-linux}
  checks:
    - {name: ran, script: patch-check}
"""


def fleet_files(mode: str = "proposal") -> dict[str, str]:
    """acme (hello-tool, linux-boxes, and the hand-written disk checks), globex, an MSP library."""
    return {
        "fleet.yaml": FLEET.replace("{mode}", mode),
        **minimal_fleet(),
        "clients/acme/disk.yaml": RICH,
        "clients/globex/client.yaml": GLOBEX_CLIENT,
        "clients/globex/backups.yaml": GLOBEX_POLICY,
        "library.yaml": MSP_LIBRARY,
        "scripts/patch-check.sh": "#!/bin/sh\napt list --upgradable\n",
        "scripts/disk-free.sh": "#!/bin/sh\ndf -h\n",
    }


def package_body(name: str, client: str | None = None, version: str = "1.0.0") -> dict[str, object]:
    body: dict[str, object] = {
        "name": name, "version": version,
        "installers": [{"os": "linux", "type": "archive", "url": f"https://dl.example.com/{name}.tar.gz",
                        "sha256": "ab" * 32, "size": 1024}],
    }
    if client is not None:
        body["client"] = client
    return body


def package_spec(name: str, version: str = "1.0.0") -> dict[str, object]:
    body = package_body(name, version=version)
    return {key: value for key, value in body.items() if key != "name"}
