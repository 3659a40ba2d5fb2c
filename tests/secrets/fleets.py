"""Fleet repository files that carry sealed values (a sealed webhook secret, a sealed licence key)."""

from __future__ import annotations

from tests.support.fleets import minimal_fleet


def fleet_yaml(webhook_secret: str) -> str:
    return f"""\
apiVersion: fleetward/v1
kind: Fleet
metadata: {{name: fleet}}
spec:
  displayName: Example MSP
  webhookSecret: "{webhook_secret}"
"""


def licence_yaml(key: str, name: str = "office") -> str:
    return f"""\
# Microsoft 365 for ACME: the key is sealed with 'fleetward seal'
apiVersion: fleetward/v1
kind: License
metadata: {{name: {name}}}
spec:
  product: Microsoft 365 Business Standard
  vendor: Microsoft
  seats: 25
  key: {key}
"""


def sealed_fleet(webhook_secret: str, licence_key: str, **package_args: object) -> dict[str, str]:
    """The minimal example fleet, plus fleet.yaml with a webhook secret and a licence for ACME."""
    return {**minimal_fleet(**package_args), "fleet.yaml": fleet_yaml(webhook_secret),
            "clients/acme/licences.yaml": licence_yaml(licence_key)}
