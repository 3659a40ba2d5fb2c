"""Debian package relations and versions, to prove that a .deb's dependencies are already met (pure).

A local .deb is installed with ``dpkg -i`` only when every ``Depends`` and ``Pre-Depends``
relation is *provably* satisfied by a package dpkg reports as installed; otherwise the agent
keeps ``apt-get install <file>``, which resolves what is missing (see :mod:`.debtool`). So
this module answers one question, "is this relation certainly satisfied?", and answers "no"
whenever it cannot be sure: a virtual package (satisfied through some other package's
``Provides``), a deprecated ``<``/``>`` operator, syntax it does not know, a version string dpkg
would reject. A wrong "no" costs apt-get's second or two; a wrong "yes" would leave a package
unpacked but unconfigured, so every doubt goes to "no".

Versions compare as dpkg compares them (``epoch:upstream-revision``, ``~`` sorting before
everything, letters before other symbols); architecture qualifiers follow dpkg's rules for
``Multi-Arch`` (``foreign`` satisfies any architecture, ``:any`` needs ``allowed``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

OPERATORS = ("<<", "<=", "=", ">=", ">>")
_NAME = r"[a-z0-9][a-z0-9+.-]+"
_RELATION = re.compile(rf"^(?P<name>{_NAME})(?::(?P<arch>[a-z0-9-]+))?"
                       r"(?:\s*\(\s*(?P<op><<|<=|=|>=|>>)\s*(?P<version>[^\s()]+)\s*\))?$")
_VERSION = re.compile(r"^(?:(?P<epoch>[0-9]+):)?(?P<rest>[A-Za-z0-9.+~:-]+)$")
MAX_RELATIONS = 200
"""More relations than this in one .deb is not a package the fast path is for."""


class UnknownRelation(ValueError):
    """A relation this module does not understand; the caller falls back to apt-get."""


@dataclass(frozen=True)
class Relation:
    """One alternative of a dependency: ``name[:arch] [(op version)]``."""

    name: str
    arch: str | None = None
    op: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        text = self.name + (f":{self.arch}" if self.arch else "")
        return text + (f" ({self.op} {self.version})" if self.op else "")


@dataclass(frozen=True)
class Installed:
    """One instance of a package as ``dpkg-query`` reports it."""

    name: str
    arch: str
    multi_arch: str
    """``no`` (or empty), ``same``, ``foreign`` or ``allowed``."""
    version: str
    status: str
    """``want ok status``, for example "install ok installed"."""
    depends: str = ""
    pre_depends: str = ""
    breaks: str = ""
    conflicts: str = ""

    @property
    def present(self) -> bool:
        """On disk in some state (not merely known to dpkg, nor only its config files left)."""
        return self.status.rsplit(" ", 1)[-1] not in ("not-installed", "config-files")

    @property
    def configured(self) -> bool:
        """Fully installed and configured: the only state in which it satisfies Depends and Pre-Depends."""
        parts = self.status.split()
        return len(parts) == 3 and parts[1] == "ok" and parts[2] == "installed"


def parse_relations(field: str) -> list[list[Relation]]:
    """A ``Depends``-style field: relations joined by ``,``, alternatives inside one by ``|``.

    Raises :class:`UnknownRelation` for anything outside the syntax of binary package relations.
    """
    groups: list[list[Relation]] = []
    text = " ".join(field.split())
    if not text:
        return groups
    for group_text in text.split(","):
        group: list[Relation] = []
        for alternative in group_text.split("|"):
            match = _RELATION.match(alternative.strip())
            if match is None:
                raise UnknownRelation(f"cannot read the relation {alternative.strip()!r}")
            version = match["version"]
            if version is not None:
                split_version(version)  # raises for a version dpkg would reject
            group.append(Relation(match["name"], match["arch"], match["op"], version))
        groups.append(group)
    if sum(len(group) for group in groups) > MAX_RELATIONS:
        raise UnknownRelation(f"more than {MAX_RELATIONS} relations")
    return groups


def split_version(version: str) -> tuple[int, str, str]:
    """``epoch:upstream-revision`` → (epoch, upstream, revision); raises for a malformed version."""
    match = _VERSION.match(version)
    if match is None:
        raise UnknownRelation(f"cannot read the version {version!r}")
    epoch = int(match["epoch"] or 0)
    rest = match["rest"]
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
    if not upstream or not upstream[0].isdigit() or (":" in upstream and match["epoch"] is None):
        raise UnknownRelation(f"cannot read the version {version!r}")
    if revision and not re.fullmatch(r"[A-Za-z0-9.+~]+", revision):
        raise UnknownRelation(f"cannot read the version {version!r}")
    return epoch, upstream, revision


def _order(char: str) -> int:
    if char.isdigit():
        return 0
    if char.isascii() and char.isalpha():
        return ord(char)
    if char == "~":
        return -1
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's ``verrevcmp``: alternate runs of non-digits (by :func:`_order`) and digits (numerically)."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        start_a, start_b = i, j
        while i < len(a) and a[i].isdigit():
            i += 1
        while j < len(b) and b[j].isdigit():
            j += 1
        number_a, number_b = int(a[start_a:i] or 0), int(b[start_b:j] or 0)
        if number_a != number_b:
            return -1 if number_a < number_b else 1
    return 0


def compare_versions(a: str, b: str) -> int:
    """Negative, zero or positive as ``a`` sorts before, equal to or after ``b`` (dpkg's order)."""
    epoch_a, upstream_a, revision_a = split_version(a)
    epoch_b, upstream_b, revision_b = split_version(b)
    if epoch_a != epoch_b:
        return -1 if epoch_a < epoch_b else 1
    return _compare_part(upstream_a, upstream_b) or _compare_part(revision_a, revision_b)


def version_satisfies(installed: str, op: str, wanted: str) -> bool:
    order = compare_versions(installed, wanted)
    return {"<<": order < 0, "<=": order <= 0, "=": order == 0, ">=": order >= 0, ">>": order > 0}[op]


def _arch_satisfies(candidate: Installed, relation: Relation, deb_arch: str, native_arch: str) -> bool:
    """dpkg's ``deparchsatisfied`` for a Depends relation, with unknown qualifiers answered "no"."""
    if candidate.multi_arch == "foreign":
        return True
    if relation.arch == "any":
        return candidate.multi_arch == "allowed"
    depending = native_arch if deb_arch == "all" else deb_arch
    wanted = {None: depending, "native": native_arch}.get(relation.arch, relation.arch)
    have = depending if candidate.arch == "all" else candidate.arch
    return wanted == have


def satisfied_by(relation: Relation, candidates: Sequence[Installed], deb_arch: str, native_arch: str) -> bool:
    """Whether an installed, configured instance of the named package satisfies ``relation``."""
    for candidate in candidates:
        if candidate.name != relation.name or not candidate.configured:
            continue
        if not _arch_satisfies(candidate, relation, deb_arch, native_arch):
            continue
        try:
            if relation.op is None or version_satisfies(candidate.version, relation.op, relation.version or ""):
                return True
        except UnknownRelation:
            continue
    return False


def unmet(groups: Sequence[Sequence[Relation]], installed: Mapping[str, Sequence[Installed]], *,
          deb_arch: str, native_arch: str) -> str | None:
    """None when every group has an alternative satisfied by an installed package, else what is not proven."""
    for group in groups:
        if not any(satisfied_by(relation, installed.get(relation.name, ()), deb_arch, native_arch)
                   for relation in group):
            return " | ".join(str(relation) for relation in group) + " is not installed at a satisfying version " \
                "(or only provided by another package)"
    return None


def blocked_by_installed(package: str, version: str, rows: Iterable[Installed]) -> str | None:
    """None when no other installed package objects to ``package`` at ``version``, else which one does.

    ``dpkg -i`` refuses a package another one ``Breaks`` or ``Conflicts`` with (apt-get would remove
    that one), and upgrading past a version another package ``Depends`` on would leave that one
    broken (apt-get would resolve it). Each counts as "not proven", as does a relation naming the
    package with an architecture qualifier or in a field that cannot be read.
    """
    for row in rows:
        if row.name == package or not row.present:
            continue
        for kind, text, must_hold in (("depends on", row.depends, True), ("pre-depends on", row.pre_depends, True),
                                      ("breaks", row.breaks, False), ("conflicts with", row.conflicts, False)):
            if package not in text:
                continue
            blocked = f"the installed {row.name} {kind} {package}"
            try:
                for group in parse_relations(text):
                    for relation in group:
                        if relation.name != package:
                            continue
                        if relation.arch not in (None, "any"):
                            return f"{blocked}:{relation.arch}"
                        holds = relation.op is None or version_satisfies(version, relation.op, relation.version or "")
                        if holds is not must_hold:
                            return blocked + (f" ({relation.op} {relation.version})" if relation.op else "")
            except UnknownRelation:
                return f"{blocked} in a way that cannot be read"
    return None
