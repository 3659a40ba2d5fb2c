"""Render a :class:`StatusSnapshot` to the files of the status branch.

Deterministic by construction: inputs are sorted tuples, templates print no
"generated at" time, and device files are keyed by hostname plus agent id.
YAML files are produced by jinja2 with every scalar passed through ``tojson``
(JSON scalars are valid YAML), so hostnames or reasons cannot break the format.
"""

from __future__ import annotations

from collections.abc import Mapping

import jinja2

from controller.status.snapshot import DeviceReport, StatusSnapshot


def _markdown_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _short(sha: str | None) -> str:
    return (sha or "")[:12]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("controller.status", "templates"),
        autoescape=False,  # noqa: S701 - markdown and YAML, never HTML; YAML scalars go through tojson
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = _markdown_cell
    env.filters["short"] = _short
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    return env


_ENV = _environment()


class DeviceFileCache:
    """Rendered device files by the (hashable, immutable) report they came from.

    A status round re-renders only devices whose report changed; with 10,000 devices and a
    quiet fleet that turns seconds of template work into dictionary lookups.
    """

    def __init__(self) -> None:
        self._rendered: dict[DeviceReport, bytes] = {}

    def render(self, device: DeviceReport, used: dict[DeviceReport, bytes]) -> bytes:
        found = self._rendered.get(device)
        if found is None:
            found = _ENV.get_template("device.yaml.j2").render(device=device).encode("utf-8")
        used[device] = found
        return found

    def keep(self, used: dict[DeviceReport, bytes]) -> None:
        self._rendered = used


def render_status(snapshot: StatusSnapshot, cache: DeviceFileCache | None = None) -> Mapping[str, bytes]:
    """All files of the status branch, by path."""
    files: dict[str, bytes] = {}
    used: dict[DeviceReport, bytes] = {}

    def put(path: str, template: str, **context: object) -> None:
        files[path] = _ENV.get_template(template).render(**context).encode("utf-8")

    put("README.md", "summary.md.j2", snap=snapshot)
    put("revisions.md", "revisions.md.j2", snap=snapshot)
    for client in snapshot.clients:
        put(f"clients/{client.name}.md", "client.md.j2", client=client, snap=snapshot)
        for device in client.devices:
            path = f"devices/{client.name}/{device.file_name}"
            if cache is None:
                put(path, "device.yaml.j2", device=device)
            else:
                files[path] = cache.render(device, used)
    for proposal in snapshot.plans:
        files[f"plans/{proposal.branch}.md"] = proposal.markdown.encode("utf-8")
    if cache is not None:
        cache.keep(used)
    return files
