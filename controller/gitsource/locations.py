"""Tell what kind of repository address the operator gave, and check it before git sees it.

Git accepts three shapes (``git help fetch``, "GIT URLS"): ``scheme://...`` URLs, the
scp-like ``[user@]host:path`` form, and local paths. We allow the URL schemes git
ships transports for and refuse remote helpers (``ext::...``, which runs commands), so a
mistyped or hostile setting cannot make git execute anything. ``GIT_ALLOW_PROTOCOL`` (see
``running.py``) enforces the same list inside git as a second fence.

Local paths are made absolute, so the mirror keeps working whatever the current directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from controller.errors import ConfigError
from controller.gitsource.redacting import redact

MAX_SOURCE_CHARS = 4096
URL_SCHEMES = frozenset({"http", "https", "ssh", "git", "file", "git+ssh", "ssh+git"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HELPER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.-]*::")
_HINT = ("give a local path, an http(s):// / ssh:// / git:// / file:// URL, "
         "or host:path for ssh")


@dataclass(frozen=True)
class Location:
    """A checked repository address."""

    address: str
    """What git is given: the URL as written, or the absolute local path."""
    local_path: Path | None
    """The repository on this machine, for a local path or a ``file://`` URL."""

    @property
    def identity(self) -> str:
        """The address without credentials: two settings naming the same repository compare equal."""
        if self.local_path is not None:
            return str(self.local_path)
        return _without_userinfo(self.address)


def parse_location(source: str) -> Location:
    """Check ``source`` and classify it; ConfigError (credentials redacted) when git must not get it."""
    shown = redact(source[:200])
    if not source or source.isspace():
        raise ConfigError("the repository address is empty", hint=_HINT)
    if len(source) > MAX_SOURCE_CHARS:
        raise ConfigError(f"the repository address {shown!r}... is over {MAX_SOURCE_CHARS} characters",
                          hint=_HINT)
    if any(ord(char) < 32 or ord(char) == 127 for char in source):
        raise ConfigError(f"the repository address {shown!r} contains control characters", hint=_HINT)
    if source.startswith("-"):
        raise ConfigError(f"the repository address {shown!r} starts with '-' (git would read it as "
                          f"an option)", hint=_HINT)
    scheme = _SCHEME.match(source)
    if scheme is not None:
        name = scheme.group(1).lower()
        if name not in URL_SCHEMES:
            raise ConfigError(f"the repository address {shown!r} uses the unsupported scheme {name!r}",
                              hint=_HINT)
        return Location(source, _file_url_path(source) if name == "file" else None)
    if _HELPER.match(source):
        raise ConfigError(f"the repository address {shown!r} names a git remote helper, which "
                          f"fleetward does not run", hint=_HINT)
    if _is_scp_like(source):
        return Location(source, None)
    path = Path(source).resolve()
    return Location(str(path), path)


def _is_scp_like(source: str) -> bool:
    # git's rule (connect.c, url_is_local_not_ssh): a colon before any slash means host:path,
    # except after a drive letter (C:/fleet).
    if len(source) >= 2 and source[1] == ":" and source[0].isalpha() and source[2:3] in ("\\", "/"):
        return False
    colon = source.find(":")
    slash = source.find("/")
    return colon > 0 and (slash == -1 or colon < slash)


def _file_url_path(url: str) -> Path | None:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        return None
    return Path(unquote(parts.path)).resolve()


def _without_userinfo(url: str) -> str:
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/]*@", r"\1", url)
