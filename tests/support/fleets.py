"""Fleet repository content for tests, as YAML text (the DESIGN.md minimal example and variants)."""

from __future__ import annotations

ACME_CLIENT = """\
apiVersion: fleetward/v1
kind: Client
metadata: {name: acme}
spec: {displayName: ACME Corp, timezone: Europe/Berlin}
"""


def package_yaml(name: str = "hello-tool", version: str = "1.0.0", *, url: str | None = None,
                 sha256: str = "0" * 64, size: int | None = None) -> str:
    url = url or f"file:///srv/artifacts/{name}-{version}.tar.gz"
    size_line = f"\n      size: {size}" if size is not None else ""
    return f"""\
apiVersion: fleetward/v1
kind: Package
metadata: {{name: {name}}}
spec:
  version: "{version}"
  installers:
    - os: linux
      type: archive
      url: {url}
      sha256: "{sha256}"{size_line}
"""


LINUX_GROUP = """\
apiVersion: fleetward/v1
kind: DeviceGroup
metadata: {name: linux-boxes}
spec:
  selector: {matchLabels: {os: linux}}
"""


ONE_WAVE = "{waves: [{percent: 100}], failureThreshold: 100}"
"""A rollout of one wave that never halts, for tests about something else than rollouts."""


def deployment_yaml(name: str = "hello-on-linux", package: str = "hello-tool", *,
                    ensure: str = "present", group: str = "linux-boxes", rollout: str | None = None) -> str:
    rollout_line = f"  rollout: {rollout}\n" if rollout else ""
    return f"""\
apiVersion: fleetward/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  package: {package}
  ensure: {ensure}
  targets: {{group: {group}}}
{rollout_line}"""


def minimal_fleet(**package_args: object) -> dict[str, str]:
    """The DESIGN.md minimal example: client acme, hello-tool, linux-boxes, hello-on-linux."""
    return {
        "clients/acme/client.yaml": ACME_CLIENT,
        "clients/acme/hello.yaml": "---\n".join(
            [package_yaml(**package_args), LINUX_GROUP, deployment_yaml()]),  # type: ignore[arg-type]
    }
