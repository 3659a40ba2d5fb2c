"""Which tool installs a local .deb: ``dpkg -i`` when its dependencies are provably met, else ``apt-get``.

``apt-get install <file>`` resolves dependencies but loads the package lists and runs its solver
first: 1-2 s even for a package that needs nothing, against ~0.1 s for ``dpkg -i``. ``dpkg -i``
does not fetch what is missing: with an unmet dependency it leaves the package unpacked and
unconfigured. So the agent asks first, in three short commands:

1. ``dpkg-deb -f <file>`` for the control fields (Package, Architecture, Depends, Pre-Depends,
   Conflicts, Breaks);
2. ``dpkg-query -W`` once for every package the relations name (name, architecture, Multi-Arch,
   version, status);
3. ``dpkg --print-architecture`` (architecture qualifiers are relative to it);

and :func:`agent.installers.debrelations.unmet` decides. Anything short of proof keeps apt-get,
exactly as before: a command that fails, a relation it cannot read, a virtual package, a .deb that
declares ``Conflicts`` or ``Breaks`` (apt-get may remove or upgrade the other side; dpkg would
refuse). The choice and its reason go into the job output.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePath

from agent.installers.debrelations import Installed, UnknownRelation, parse_relations, unmet
from agent.installers.processes import Runner

PROBE_TIMEOUT_SECONDS = 30.0
FIELDS = ("Package", "Architecture", "Depends", "Pre-Depends", "Conflicts", "Breaks")
QUERY_FORMAT = "${Package}\t${Architecture}\t${Multi-Arch}\t${Version}\t${Status}\n"


@dataclass(frozen=True)
class DebTool:
    use_apt: bool
    why: str

    def describe(self) -> str:
        return f"installing with {'apt-get' if self.use_apt else 'dpkg -i'}: {self.why}"


def _apt(why: str) -> DebTool:
    return DebTool(True, why)


def parse_control_fields(text: str) -> dict[str, str]:
    """``dpkg-deb -f`` output for several fields: ``Name: value`` lines, continuations indented.

    Only the fields asked for are expected: anything else (a warning dpkg-deb printed about the
    control file, say) means the .deb is not one to take a shortcut with.
    """
    fields: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and current:
            fields[current] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or name not in FIELDS:
            raise UnknownRelation(f"unexpected output from dpkg-deb: {line[:200]!r}")
        current = name
        fields[current] = value.strip()
    return fields


def parse_query(text: str) -> dict[str, list[Installed]]:
    """``dpkg-query -W -f QUERY_FORMAT``: one tab-separated line per package instance; other lines ignored."""
    found: dict[str, list[Installed]] = defaultdict(list)
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 5:
            found[parts[0]].append(Installed(*parts))
    return dict(found)


def choose_deb_tool(artifact: PurePath, runner: Runner) -> DebTool:
    """``dpkg -i`` only when every Depends and Pre-Depends of ``artifact`` is satisfied by what is installed."""
    done = runner(("dpkg-deb", "-f", str(artifact), *FIELDS), timeout=PROBE_TIMEOUT_SECONDS)
    if done.code != 0:
        return _apt("could not read the .deb's control fields")
    try:
        fields = parse_control_fields(done.output)
        if fields.get("Conflicts") or fields.get("Breaks"):
            return _apt("the .deb declares Conflicts or Breaks")
        groups = parse_relations(fields.get("Depends", "")) + parse_relations(fields.get("Pre-Depends", ""))
    except UnknownRelation as exc:
        return _apt(str(exc))
    if not groups:
        return DebTool(False, "the .deb has no dependencies")
    deb_arch = fields.get("Architecture", "")
    arch = runner(("dpkg", "--print-architecture"), timeout=PROBE_TIMEOUT_SECONDS)
    native_arch = arch.output.strip() if arch.code == 0 else ""
    if not deb_arch or not native_arch:
        return _apt("could not tell the architectures")
    names = sorted({relation.name for group in groups for relation in group})
    query = runner(("dpkg-query", "-W", "-f", QUERY_FORMAT, *names), timeout=PROBE_TIMEOUT_SECONDS)
    if query.code not in (0, 1):  # 1: some names are not known to dpkg (reported as such)
        return _apt("could not query the installed packages")
    missing = unmet(groups, parse_query(query.output), deb_arch=deb_arch, native_arch=native_arch)
    if missing is not None:
        return _apt(missing)
    return DebTool(False, "every dependency is installed")
