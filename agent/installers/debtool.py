"""Which tool installs a local .deb: ``dpkg -i`` when its dependencies are provably met, else ``apt-get``.

``apt-get install <file>`` resolves dependencies but loads the package lists and runs its solver
first: 1-2 s even for a package that needs nothing, against ~0.1 s for ``dpkg -i``. ``dpkg -i``
does not fetch what is missing: with an unmet dependency it leaves the package unpacked and
unconfigured. So the agent proves first, from two readings, both in-process (a few ms together):

1. the .deb's control fields (Package, Version, Architecture, Depends, Pre-Depends, Conflicts,
   Breaks, Provides), read from the archive by :func:`~.debarchive.read_control`;
2. dpkg's database, read from ``<admin_dir>/status`` by :func:`~.debstatus.read_installed`: only
   the instances the proof needs (the packages the relations name, ``dpkg``, and every package
   whose stanza mentions the .deb's package). The .deb's dependencies must be installed
   (:func:`~.debrelations.unmet`) and no installed package may break, conflict with or depend on
   another version of it (:func:`~.debrelations.blocked_by_installed`). Architecture qualifiers
   are relative to the native architecture, which is the architecture of the installed ``dpkg``
   package (what ``dpkg --print-architecture`` prints).

Either reading refuses what it does not read (:class:`~.debstanzas.Unreadable`: a
``control.tar.zst``, a malformed or truncated archive, journalled dpkg updates not yet in the
status file, an oversize file, a stanza that is not plain deb822) and the agent then asks
dpkg's own tool, which reads everything dpkg does: ``dpkg-deb -f <file> FIELDS`` for the fields,
one ``dpkg-query -W`` over the whole database for the installed packages. The job output says so
("control fields read by dpkg-deb: ..."). Those two processes used to run for every .deb; reading
in-process replaced them on the common path because they were most of the agent's overhead over a
plain ``dpkg -i`` (bench/README.md, "Agent install overhead").

Anything short of proof keeps apt-get: a dpkg tool that fails or warns, a relation it cannot read,
a package name dpkg would lower-case, a virtual package, a .deb that declares ``Conflicts``,
``Breaks`` or ``Provides`` (apt-get may remove or upgrade the other side; dpkg would refuse). The
choice and its reason go into the job output.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePath

from agent.installers.debarchive import read_control
from agent.installers.debrelations import (
    Installed,
    UnknownRelation,
    blocked_by_installed,
    parse_relations,
    split_version,
    unmet,
)
from agent.installers.debstanzas import Unreadable
from agent.installers.debstatus import ADMIN_DIR, read_installed
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
    read_by: tuple[str, ...] = ()
    """What dpkg's tools read because the agent could not, and why (empty when all was read in-process)."""

    def describe(self) -> str:
        said = f"installing with {'apt-get' if self.use_apt else 'dpkg -i'}: {self.why}"
        return said + "".join(f" ({note})" for note in self.read_by)


class NotProven(Exception):
    """A fact the proof needs could not be had; the message is the job output's reason for apt-get."""


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


def choose_deb_tool(artifact: PurePath, runner: Runner, admin_dir: Path = ADMIN_DIR) -> DebTool:
    """``dpkg -i`` only when every Depends and Pre-Depends of ``artifact`` is installed and nothing objects.

    ``admin_dir`` is dpkg's database, read in-process or by ``dpkg-query --admindir`` (tests point
    it at fixtures); the answer's ``read_by`` names the dpkg tools that had to read what the agent
    could not.
    """
    read_by: list[str] = []
    try:
        tool = _choose(artifact, runner, admin_dir, read_by)
    except (NotProven, UnknownRelation) as exc:
        tool = _apt(str(exc))
    return dataclasses.replace(tool, read_by=tuple(read_by))


def _choose(artifact: PurePath, runner: Runner, admin_dir: Path, read_by: list[str]) -> DebTool:
    fields = _control_fields(artifact, runner, read_by)
    if fields.get("Conflicts") or fields.get("Breaks") or fields.get("Provides"):
        return _apt("the .deb declares Conflicts, Breaks or Provides")
    package, version = fields.get("Package", ""), fields.get("Version", "")
    if not package:
        return _apt("the .deb names no package")
    if package.lower() != package:
        # dpkg reads it lower-cased, and so do the installed packages' relations that name it.
        raise UnknownRelation(f"cannot read the package name {package!r}")
    split_version(version)
    groups = parse_relations(fields.get("Depends", "")) + parse_relations(fields.get("Pre-Depends", ""))
    names = {"dpkg", package, *(relation.name for group in groups for relation in group)}
    installed = _installed(names, package, admin_dir, runner, read_by)
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


def _control_fields(artifact: PurePath, runner: Runner, read_by: list[str]) -> dict[str, str]:
    """The :data:`FIELDS` the .deb has, read in-process, else by ``dpkg-deb -f``."""
    try:
        control = read_control(Path(artifact))
    except Unreadable as exc:
        read_by.append(f"control fields read by dpkg-deb: {exc}")
    else:
        return {field: control[field.lower()].replace("\n", " ") for field in FIELDS if field.lower() in control}
    done = runner(("dpkg-deb", "-f", str(artifact), *FIELDS), timeout=PROBE_TIMEOUT_SECONDS)
    if done.code != 0:
        raise NotProven("could not read the .deb's control fields")
    return parse_control_fields(done.output)


def _installed(names: set[str], package: str, admin_dir: Path, runner: Runner,
               read_by: list[str]) -> dict[str, list[Installed]]:
    """The instances of ``names`` and of every package mentioning ``package``, read in-process, else by dpkg-query."""
    try:
        return read_installed(names, package, admin_dir)
    except Unreadable as exc:
        read_by.append(f"installed packages read by dpkg-query: {exc}")
    query = runner(("dpkg-query", f"--admindir={admin_dir}", "-W", "-f", QUERY_FORMAT),
                   timeout=PROBE_TIMEOUT_SECONDS, max_output_chars=MAX_QUERY_CHARS)
    if query.code != 0 or len(query.output) >= MAX_QUERY_CHARS:
        raise NotProven("could not query the installed packages")
    return parse_query(query.output)
