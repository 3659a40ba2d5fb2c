"""The URL policy: TLS everywhere, plain http only to loopback unless explicitly allowed."""

from __future__ import annotations

import pytest

from agent.errors import InsecureUrl
from agent.urls import check_artifact_url, check_server_url, is_loopback_host, redact_url


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        pytest.param("127.0.0.1", True, id="ipv4-loopback"),
        pytest.param("127.255.0.9", True, id="anywhere-in-127/8"),
        pytest.param("::1", True, id="ipv6-loopback"),
        pytest.param("[::1]", True, id="bracketed-ipv6"),
        pytest.param("localhost", True, id="localhost"),
        pytest.param("LocalHost", True, id="localhost-any-case"),
        pytest.param("10.0.0.1", False, id="private-network"),
        pytest.param("localhost.evil.com", False, id="localhost-as-a-subdomain"),
        pytest.param("127.0.0.1.nip.io", False, id="dns-name-that-resolves-to-loopback"),
        pytest.param("", False, id="empty"),
    ],
)
def test_loopback_is_judged_without_dns(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("url", "insecure_ok", "allowed"),
    [
        pytest.param("https://fleet.example.com", False, True, id="https"),
        pytest.param("http://127.0.0.1:8080/", False, True, id="http-loopback"),
        pytest.param("http://fleet.example.com", False, False, id="http-remote"),
        pytest.param("http://fleet.example.com", True, True, id="http-remote-with-flag"),
        pytest.param("ftp://fleet.example.com", True, False, id="ftp"),
        pytest.param("https://user:pw@fleet.example.com", False, False, id="credentials-in-url"),
        pytest.param("https://fleet.example.com/?x=1", False, False, id="query"),
    ],
)
def test_server_urls(url: str, insecure_ok: bool, allowed: bool) -> None:
    if allowed:
        assert not check_server_url(url, allow_insecure_http=insecure_ok).endswith("/")
    else:
        with pytest.raises(InsecureUrl):
            check_server_url(url, allow_insecure_http=insecure_ok)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        pytest.param("https://cdn.example.com/a.tar.gz", True, id="https"),
        pytest.param("file:///srv/a.tar.gz", True, id="local-file"),
        pytest.param("file://localhost/srv/a.tar.gz", True, id="local-file-with-localhost"),
        pytest.param("file://fileserver/share/a.tar.gz", False, id="remote-file-host"),
        pytest.param("http://[::1]:9000/a.zip", True, id="http-ipv6-loopback"),
        pytest.param("http://cdn.example.com/a.tar.gz", False, id="http-remote"),
        pytest.param("smb://fileserver/a.zip", False, id="other-scheme"),
    ],
)
def test_artifact_urls(url: str, allowed: bool) -> None:
    if allowed:
        check_artifact_url(url, allow_insecure_http=False)
    else:
        with pytest.raises(InsecureUrl):
            check_artifact_url(url, allow_insecure_http=False)


def test_redacted_urls_drop_the_query_where_presigned_secrets_live() -> None:
    shown = redact_url("https://bucket.example.com:8443/a.tar.gz?X-Amz-Signature=secret")
    assert shown == "https://bucket.example.com:8443/a.tar.gz?…"
    assert "secret" not in shown
