"""What dpkg has installed, read in-process from its status file, without starting ``dpkg-query``.

dpkg keeps its database in ``<admindir>/status`` (``/var/lib/dpkg/status``): one deb822 stanza per
package instance, separated by blank lines, ``Package`` always written first. A dpkg run rewrites
the file whole at its end (to ``status-new``, then renamed over it); changes made before that are
journalled as numbered files in ``<admindir>/updates/``, which the next dpkg run (or dpkg-query,
in memory) merges. So while ``updates/`` holds anything, the status file may be stale:
:func:`read_installed` then refuses (:class:`~.debstanzas.Unreadable`) and :mod:`.debtool` runs
``dpkg-query``, as it does for a file larger than :data:`MAX_STATUS_BYTES` or any stanza it needs
that is not plain deb822.

The proof in :mod:`.debtool` needs few stanzas: those of the packages the .deb's relations name,
of ``dpkg`` (the native architecture), and of every package whose relations mention the .deb's own
package (:func:`~.debrelations.blocked_by_installed`). The file is therefore split at blank lines
(where dpkg splits it) and each stanza's name taken from its first line; only the stanzas named
or mentioning the package, compared on lower-cased bytes since dpkg reads package names without
regard to case, are parsed whole. A stanza whose first line is not a plain ``Package:`` line is
parsed whole to learn its name, and one with a second ``Package:`` line is refused, so no stanza is
skipped unread. A stanza that mentions the package only in its description is parsed too (the
prefilter is a plain substring test): 3-5 ms here (760 packages) for a package few others
mention, ~20 ms for libc6 (named in 496 stanzas), against ~35 ms for ``dpkg-query``. The file is
read afresh every time: each install rewrites it, so a cache keyed by its inode, size and time
would miss on the next install job anyway.

A row holds what ``dpkg-query -W`` prints for the same instance (the tests compare the two on this
machine's database and on fixtures): stanzas ``not-installed`` are left out, package names are
lower-cased, a missing ``Multi-Arch`` reads ``no``, and the status and relation fields have their
whitespace collapsed (dpkg-query prints relations on one line). A relation field naming a package
in upper case is refused, since dpkg would read it lower-cased and the substring tests of
:func:`~.debrelations.blocked_by_installed` would not see it.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path

from agent.installers.debrelations import Installed
from agent.installers.debstanzas import Unreadable, parse_stanza

ADMIN_DIR = Path("/var/lib/dpkg")
MAX_STATUS_BYTES = 64 * 1024 * 1024
"""~0.7 MB for 760 packages here; more than this means something is off (``dpkg-query`` then decides)."""
MULTI_ARCH = ("no", "same", "foreign", "allowed")
_PLAIN_PACKAGE_LINE = re.compile(rb"package:[ \t]*([a-z0-9][a-z0-9+.-]+)[ \t]*(?:\n(?![ \t])|\Z)")
"""On lower-cased bytes: a first line naming a package, not continued on the next line."""
_PACKAGE_LINE = b"package:"
_ANY_CASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+.-]*")
_VERSIONS_IN_PARENTHESES = re.compile(r"\([^)]*\)")
_UPPER_CASE = re.compile(r"[A-Z]")


def read_installed(names: Collection[str], mentioning: str | None,
                   admin_dir: Path = ADMIN_DIR) -> dict[str, list[Installed]]:
    """Every instance dpkg knows of the packages in ``names`` and of any package whose stanza mentions ``mentioning``.

    Keyed by package name, as :func:`.debtool.parse_query` keys the whole of ``dpkg-query``'s
    answer. ``names`` must be lower case; an empty ``mentioning`` selects every stanza, None
    none beyond ``names`` (detection asks for one package, not for what mentions it). Raises
    :class:`~.debstanzas.Unreadable` when the status file is not to be trusted or not read here:
    ``dpkg-query`` decides then.
    """
    _no_pending_updates(admin_dir / "updates")
    data = _read_capped(admin_dir / "status")
    lower = data.lower()  # changes ASCII letters only: offsets stay those of data
    if lower.count(b"\n" + _PACKAGE_LINE) != lower.count(b"\n\n" + _PACKAGE_LINE):
        raise Unreadable(f"a Package line of {admin_dir / 'status'} does not start its stanza")
    wanted = {name.encode() for name in names}
    needle = mentioning.encode() if mentioning is not None else None
    found: dict[str, list[Installed]] = defaultdict(list)
    end = -2
    for stanza in lower.split(b"\n\n"):
        start, end = end + 2, end + 2 + len(stanza)
        if not stanza.strip(b"\n"):
            continue  # more blank lines than one, or the end of the file
        mentions = needle is not None and needle in stanza
        name = _first_line_name(stanza)
        if not mentions and name is not None and name not in wanted:
            continue
        row = _row(data[start:end].strip(b"\n").decode("utf-8", "replace"))
        if row is not None and (mentions or row.name.encode() in wanted):
            found[row.name].append(row)
    return dict(found)


def _no_pending_updates(updates: Path) -> None:
    """dpkg leaves ``updates/`` empty when a run ends; a journal there is not yet in the status file."""
    try:
        with os.scandir(updates) as entries:
            pending = next((entry.name for entry in entries), None)
    except OSError as exc:
        raise Unreadable(f"cannot list {updates}: {exc.strerror or exc}") from None
    if pending is not None:
        raise Unreadable(f"dpkg has updates not yet merged into its status file ({updates / pending})")


def _read_capped(status: Path) -> bytes:
    try:
        with status.open("rb") as file:
            data = file.read(MAX_STATUS_BYTES + 1)
    except OSError as exc:
        raise Unreadable(f"cannot read {status}: {exc.strerror or exc}") from None
    if len(data) > MAX_STATUS_BYTES:
        raise Unreadable(f"{status} is larger than {MAX_STATUS_BYTES} bytes")
    return data


def _first_line_name(stanza: bytes) -> bytes | None:
    """The name on a stanza's plain, unfolded ``Package:`` first line; None when it has none (parse it whole)."""
    plain = _PLAIN_PACKAGE_LINE.match(stanza)
    return plain[1] if plain else None


def _row(stanza: str) -> Installed | None:
    """One stanza as ``dpkg-query`` shows it; None for a ``not-installed`` instance, which it does not show."""
    fields = parse_stanza(stanza)
    name, status = fields.get("package", ""), " ".join(fields.get("status", "").split())
    if not _ANY_CASE_NAME.fullmatch(name) or not status:
        raise Unreadable(f"a status stanza without a Package name or a Status: {stanza[:80]!r}")
    if status.rsplit(" ", 1)[-1] == "not-installed":
        return None
    multi_arch = fields.get("multi-arch", "no")
    if multi_arch not in MULTI_ARCH:
        raise Unreadable(f"{name} has Multi-Arch: {multi_arch[:40]!r}")
    relations = []
    for field in ("depends", "pre-depends", "breaks", "conflicts"):
        text = " ".join(fields.get(field, "").split())
        if _UPPER_CASE.search(text) and _UPPER_CASE.search(_VERSIONS_IN_PARENTHESES.sub("", text)):
            raise Unreadable(f"{name} names a package in upper case in {field}")
        relations.append(text)
    return Installed(name.lower(), fields.get("architecture", ""), multi_arch, fields.get("version", ""), status,
                     *relations)
