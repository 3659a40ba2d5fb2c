"""Hide credentials before a repository address reaches an error message or a log line.

Operators often put a token in the repository URL (``https://x-access-token:TOKEN@host/...``).
Git itself echoes that URL in some of its messages, so everything this package reports —
our own text and git's — goes through :func:`redact` first.
"""

from __future__ import annotations

import re

# scheme://<userinfo>@ — the userinfo runs up to the last "@" before the first "/" (a raw "@"
# in a password is not valid but does happen), and never crosses whitespace or quotes, so
# two URLs on one line are redacted separately.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s'\"]*@")


def redact(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)
