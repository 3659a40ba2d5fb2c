"""One deb822 stanza, read as strictly as dpkg writes it: what is read, and what is refused (pure)."""

from __future__ import annotations

import pytest

from agent.installers.debstanzas import Unreadable, parse_stanza


def test_fields_are_keyed_by_lower_case_name_with_continuations_joined() -> None:
    fields = parse_stanza("Package: hello\nDEPENDS: libc6 (>= 2.34),\n dpkg\n\t| perl\n"
                          "Description: short\n long line\n .\n more\n\n")
    assert fields == {"package": "hello", "depends": "libc6 (>= 2.34),\ndpkg\n| perl",
                      "description": "short\nlong line\n.\nmore"}


def test_an_empty_value_and_a_value_that_starts_on_the_next_line() -> None:
    assert parse_stanza("Depends:\nConflicts:\n foo\n") == {"depends": "", "conflicts": "\nfoo"}


@pytest.mark.parametrize("text", [
    pytest.param("Package: a\n# a comment\n", id="comment"),
    pytest.param("Package: a\nDescription: x\n \n y\n", id="whitespace-only-line"),
    pytest.param("Package: a\r\nVersion: 1\r\n", id="carriage-return"),
    pytest.param("Package: a\nDepends: b\ndepends: c\n", id="field-given-twice-in-another-case"),
    pytest.param(" continued\nPackage: a\n", id="continuation-first"),
    pytest.param("Package: a\n\nPackage: b\n", id="two-stanzas"),
    pytest.param("Package a\n", id="no-colon"),
    pytest.param("Pack age: a\n", id="space-in-name"),
    pytest.param("-Package: a\n", id="name-starting-with-dash"),
    pytest.param("", id="empty"),
])
def test_what_dpkg_would_not_write_is_refused(text: str) -> None:
    with pytest.raises(Unreadable):
        parse_stanza(text)
