"""One stanza of Debian control syntax (deb822), read as strictly as dpkg writes it (pure).

The in-process readers behind :mod:`.debtool` share it: the ``control`` file inside a .deb
(:mod:`.debarchive`) and the stanzas of dpkg's status file (:mod:`.debstatus`). A stanza is
``Name: value`` lines; a line starting with a space or a tab continues the field above it. Field
names are matched without regard to case, as dpkg matches them, so a ``depends:`` is still a
``Depends``. Whatever falls outside that form raises :class:`Unreadable` rather than being guessed
at: a comment, a whitespace-only line (dpkg reads it as part of the value above, with a warning), a
carriage return, a field given twice, a continuation before any field, a second stanza. The
callers then ask dpkg's own tools, which accept or reject such input as dpkg -i would.
"""

from __future__ import annotations

import re

_FIELD_NAME = re.compile(r"[!-\"$-,.-9;-~][!-9;-~]*")
"""Printable ASCII but ``:``, not starting with ``#`` or ``-`` (Debian policy 5.1)."""


class Unreadable(ValueError):
    """Input the in-process readers do not read; the message says what. Callers ask dpkg's tools instead."""


def parse_stanza(text: str) -> dict[str, str]:
    """The fields of one stanza, keyed by lower-cased name.

    A value keeps its continuation lines, each stripped and joined to the first with ``\\n``;
    trailing newlines after the stanza are allowed, anything after a blank line is not.
    """
    if "\r" in text:
        raise Unreadable("a carriage return in a control stanza")
    fields: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in text.rstrip("\n").split("\n"):
        if line[:1] in (" ", "\t"):
            continued = line.strip()
            if not lines or not continued:
                raise Unreadable(f"a continuation line dpkg would not write: {line[:80]!r}")
            lines.append(continued)
            continue
        if not line:
            raise Unreadable("a blank line inside a control stanza (more than one stanza, or none)")
        name, colon, value = line.partition(":")
        if not colon or not _FIELD_NAME.fullmatch(name):
            raise Unreadable(f"not a control field line: {line[:80]!r}")
        lines = fields.setdefault(name.lower(), [])
        if lines:
            raise Unreadable(f"the field {name!r} is given twice")
        lines.append(value.strip(" \t"))
    return {name: "\n".join(lines) for name, lines in fields.items()}
