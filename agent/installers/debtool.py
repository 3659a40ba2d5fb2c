"""Which tool installs a local .deb: ``dpkg -i`` when its dependencies are provably met, else ``apt-get``.

``apt-get install <file>`` resolves dependencies but loads the package lists and runs its solver
first: 1-2 s even for a package that needs nothing, against ~0.1 s for ``dpkg -i``. ``dpkg -i``
does not fetch what is missing: with an unmet dependency it leaves the package unpacked and
unconfigured. So the agent asks first, in two short commands:

1. ``dpkg-deb -f <file>`` for the control fields (Package, Version, Architecture, Depends,
   Pre-Depends, Conflicts, Breaks, Provides);
2. at the same time, ``dpkg-query -W`` once, for every package dpkg knows (name, architecture,
   Multi-Arch, version, status and the relations of each; ~35 ms for 760 packages): the .deb's
   dependencies must be installed (:func:`~agent.installers.debrelations.unmet`) and no installed
   package may break, conflict with or depend on another version of it
   (:func:`~agent.installers.debrelations.blocked_by_installed`). Architecture qualifiers are
   relative to the native architecture, which is the architecture of the installed ``dpkg``
   package (what ``dpkg --print-architecture`` prints, without a third process).

Anything short of proof keeps apt-get, exactly as before: a command that fails or warns, a relation
it cannot read, a virtual package, a .deb that declares ``Conflicts``, ``Breaks`` or ``Provides``
(apt-get may remove or upgrade the other side; dpkg would refuse). The choice and its reason go into
the job output.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePath

from agent.installers.debrelations import (
    Installed,
    UnknownRelation,
    blocked_by_installed,
    parse_relations,
    split_version,
    unmet,
)
from agent.installers.processes import Runner

PROBE_TIMEOUT_SECONDS = 30.0
FIELDS = ("Package", "Version", "Architecture", "Depends", "Pre-Depends", "Conflicts", "Breaks", "Provides")
QUERY_FORMAT = ("${Package}\t${Architecture}\t${Multi-Arch}\t${Version}\t${Status}\t${Depends}\t${Pre-Depends}\t"
                "${Breaks}\t${Conflicts}\n")
QUERY_COLUMNS = QUERY_FORMAT.count("\t") + 1
MAX_QUERY_CHARS = 16 * 1024 * 1024
"""dpkg's whole database, one line a package: ~70 KB for 760 packages here; more means something is off."""


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
    """``dpkg-query -W -f QUERY_FORMAT``: one tab-separated line per package instance.

    Any other line (a warning, a field spanning lines) raises: a package missed here could be
    the one that depends on or breaks the .deb.
    """
    found: dict[str, list[Installed]] = defaultdict(list)
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != QUERY_COLUMNS:
            raise UnknownRelation(f"unexpected output from dpkg-query: {line[:200]!r}")
        found[parts[0]].append(Installed(*parts))
    return dict(found)


def choose_deb_tool(artifact: PurePath, runner: Runner) -> DebTool:
    """``dpkg -i`` only when every Depends and Pre-Depends of ``artifact`` is installed and nothing objects."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # the two commands take about as long; run them together
        pending = pool.submit(runner, ("dpkg-query", "-W", "-f", QUERY_FORMAT), timeout=PROBE_TIMEOUT_SECONDS,
                              max_output_chars=MAX_QUERY_CHARS)
        done = runner(("dpkg-deb", "-f", str(artifact), *FIELDS), timeout=PROBE_TIMEOUT_SECONDS)
        query = pending.result()
    if done.code != 0:
        return _apt("could not read the .deb's control fields")
    try:
        fields = parse_control_fields(done.output)
        if fields.get("Conflicts") or fields.get("Breaks") or fields.get("Provides"):
            return _apt("the .deb declares Conflicts, Breaks or Provides")
        package, version = fields.get("Package", ""), fields.get("Version", "")
        if not package:
            return _apt("the .deb names no package")
        split_version(version)
        groups = parse_relations(fields.get("Depends", "")) + parse_relations(fields.get("Pre-Depends", ""))
    except UnknownRelation as exc:
        return _apt(str(exc))
    if query.code != 0 or len(query.output) >= MAX_QUERY_CHARS:
        return _apt("could not query the installed packages")
    try:
        installed = parse_query(query.output)
    except UnknownRelation as exc:
        return _apt(str(exc))
    blocked = blocked_by_installed(package, version, (row for rows in installed.values() for row in rows))
    if blocked is not None:
        return _apt(blocked)
    if not groups:
        return DebTool(False, "the .deb has no dependencies")
    deb_arch = fields.get("Architecture", "")
    native_arch = next((row.arch for row in installed.get("dpkg", ()) if row.configured), "")
    if not deb_arch or not native_arch:
        return _apt("could not tell the architectures")
    missing = unmet(groups, installed, deb_arch=deb_arch, native_arch=native_arch)
    if missing is not None:
        return _apt(missing)
    return DebTool(False, "every dependency is installed")
