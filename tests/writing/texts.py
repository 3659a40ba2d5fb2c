"""Fleet files for the writing tests: hand-written, with everything people put in YAML."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML


def load_yaml(text: str) -> Any:
    """One YAML document as plain data."""
    return YAML(typ="safe", pure=True).load(text)

RICH = '''\
# yaml-language-server: $schema=../../.fleetward/schemas/resource.schema.json
# Disk checks for ACME.  Owner: ops@acme.example
apiVersion: fleetward/v1
kind: Script
metadata: { name: disk-free }      # flow, with spaces inside the braces
spec:
  shell: bash
  file: "scripts/disk-free.sh"
  os: [linux]
  parameters: [{name: min_percent, type: integer}, {name: unit, type: string}]

---
# The policy itself
apiVersion: 'fleetward/v1'
kind: Policy
metadata:
  name: enough-disk
  labels: {team: ops}
spec:
  # What it is for
  description: 'Keep disks from filling up'    # single quoted on purpose

  targets:
    group: linux-boxes          # the main group
    devices:
    - pc-1
    - "pc-2"
  mode:   audit
  schedule: {every: 4h}   # every four hours
  checks:
    - name: free
      script: disk-free      # from the library
      params: {min_percent: 15, unit: "GiB"}
# end of the policy
...
---
apiVersion: fleetward/v1
kind: AlertTicketRule
metadata: {name: critical-disk}
spec:
  match:
    alertTypes: [disk_free]
    severities:
      - critical
  routing: {priority: high}    # paged
'''
