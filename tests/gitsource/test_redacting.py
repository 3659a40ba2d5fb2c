"""Credentials never reach a message: redaction of addresses in any text."""

from __future__ import annotations

import pytest

from controller.gitsource import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("https://user:secret@host/x.git", "https://***@host/x.git", id="user-and-password"),
        pytest.param("https://ghp_token@github.example/x", "https://***@github.example/x", id="token-only"),
        pytest.param("fatal: unable to access 'http://u:p@127.0.0.1:8/x.git/': refused",
                     "fatal: unable to access 'http://***@127.0.0.1:8/x.git/': refused", id="inside-quotes"),
        pytest.param("https://u:p@ss@host/x", "https://***@host/x", id="raw-at-in-password"),
        pytest.param("a https://u:1@h1/x and ssh://git:2@h2/y", "a https://***@h1/x and ssh://***@h2/y",
                     id="two-urls"),
        pytest.param("https://host/path?email=a@b", "https://host/path?email=a@b", id="at-after-the-host"),
        pytest.param("git@host:msp/fleet.git", "git@host:msp/fleet.git", id="scp-user-is-not-secret"),
        pytest.param("/srv/fleet.git", "/srv/fleet.git", id="path"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected
