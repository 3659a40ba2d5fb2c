"""Which URLs the agent may talk to, decided without any network traffic.

The rule (DESIGN principle 5): TLS everywhere, plain ``http://`` only to a
loopback host (127.0.0.0/8, ::1, ``localhost``) unless the agent was enrolled
with ``--allow-insecure-http``. Artifacts may also come from ``file://`` on the
local machine. The same check runs on every redirect hop, so a redirect can
never downgrade to plain http off loopback or switch to ``file://``.

Host names are judged as written: ``localhost`` is loopback by definition
(RFC 6761), anything else must be a literal loopback address. Nothing is
resolved, so DNS cannot turn a remote host into a "loopback" one.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from agent.errors import InsecureUrl

MAX_URL_CHARS = 2048


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _http_allowed(url: str, allow_insecure_http: bool, what: str) -> None:
    parts = urlsplit(url)
    if not parts.hostname:
        raise InsecureUrl(f"{what} {url!r} has no host", hint="write it as https://host/...")
    if parts.username or parts.password:
        raise InsecureUrl(f"{what} {url!r} carries credentials",
                          hint="remove user:password@ from the URL")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise InsecureUrl(
            f"{what} {url!r} is plain http to a non-loopback host",
            hint="use https://, or enrol with --allow-insecure-http on a trusted network",
        )


def check_server_url(url: str, *, allow_insecure_http: bool) -> str:
    """The controller's base URL, normalised (no trailing slash), or :class:`InsecureUrl`."""
    if len(url) > MAX_URL_CHARS:
        raise InsecureUrl(f"server URL is longer than {MAX_URL_CHARS} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise InsecureUrl(f"server URL {url!r} must start with https:// (or http:// for loopback)",
                          hint="for example --server https://fleetward.example.com")
    if parts.query or parts.fragment:
        raise InsecureUrl(f"server URL {url!r} must not have a query or fragment")
    _http_allowed(url, allow_insecure_http, "server URL")
    return url.rstrip("/")


def check_artifact_url(url: str, *, allow_insecure_http: bool) -> str:
    """Pass an artifact URL (or a redirect target) that policy allows; raise otherwise."""
    if len(url) > MAX_URL_CHARS:
        raise InsecureUrl(f"artifact URL is longer than {MAX_URL_CHARS} characters")
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InsecureUrl(f"artifact URL {url!r} names a remote file host",
                              hint="file:// URLs must be local: file:///path/to/artifact")
        return url
    if parts.scheme not in ("https", "http"):
        raise InsecureUrl(f"artifact URL {url!r} has scheme {parts.scheme!r}",
                          hint="artifacts come from https://, file:// or loopback http://")
    _http_allowed(url, allow_insecure_http, "artifact URL")
    return url


def file_url_path(url: str) -> Path:
    """The local path a ``file://`` URL names (percent-decoded, OS conventions)."""
    return Path(url2pathname(urlsplit(url).path))


def redact_url(url: str) -> str:
    """The URL without its query string, for messages: presigned URLs carry secrets there."""
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.hostname or ''}"
    if parts.port:
        shown += f":{parts.port}"
    return shown + parts.path + ("?…" if parts.query else "")
