"""Linux software beyond dpkg/rpm basics: flatpak, snapd's REST API, dpkg install dates, priority,
and the real collector against this machine's ``dpkg-query -W``."""

from __future__ import annotations

import json
import os
import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from agent.software import Places, collect_software
from agent.software.linux import LinuxPlaces, read_snaps
from agent.software.tools import Tool, run_tool
from agent.throttling import LOW_NICENESS, current_niceness, run_at_low_priority
from schemas.protocol import SoftwareItem

# The shape snapd documents for GET /v2/snaps (snapcraft.io/docs/snapd-api), trimmed.
SNAPS = {
    "type": "sync", "status-code": 200, "status": "OK",
    "result": [
        {"id": "DLqre5XGLbDqg9jPtiAhRRjDuPVa5X1q", "name": "core20", "version": "20231123", "revision": "2105",
         "type": "base", "status": "active", "channel": "latest/stable",
         "install-date": "2023-12-05T10:11:12.123456789Z",
         "publisher": {"id": "canonical", "username": "canonical", "display-name": "Canonical",
                       "validation": "verified"}},
        {"id": "XXzVIXswXKHqlUATPqGCj2w2l7BxosS8", "name": "firefox", "version": "121.0-1", "revision": "3600",
         "type": "app", "status": "active", "install-date": "2024-01-02T03:04:05Z",
         "publisher": {"id": "mozilla", "username": "mozilla", "display-name": "Mozilla"}},
        {"name": "local-thing", "version": "0.1", "revision": "x1", "type": "app", "status": "active"},
    ],
}


def _tool(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


@pytest.fixture
def nowhere(tmp_path: Path) -> LinuxPlaces:
    return LinuxPlaces(dpkg_info=tmp_path / "no-dpkg-info", snapd_socket=tmp_path / "no-snapd.socket")


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def snapd(tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A local HTTP server on a Unix socket answering like snapd; ``answer`` sets status and body."""
    answer: dict[str, Any] = {"status": 200, "body": json.dumps(SNAPS).encode(), "paths": []}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            answer["paths"].append(self.path)
            self.send_response(answer["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer["body"])))
            self.end_headers()
            self.wfile.write(answer["body"])

    path = tmp_path / "snapd.socket"
    server = _UnixHTTPServer(str(path), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield path, answer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_snaps_come_from_the_snapd_api(snapd: tuple[Path, dict[str, Any]]) -> None:
    socket, answer = snapd
    assert read_snaps(socket) == [
        SoftwareItem(name="core20", version="20231123", source="snap", publisher="Canonical",
                     install_date=date(2023, 12, 5)),
        SoftwareItem(name="firefox", version="121.0-1", source="snap", publisher="Mozilla",
                     install_date=date(2024, 1, 2)),
        SoftwareItem(name="local-thing", version="0.1", source="snap"),
    ]
    assert answer["paths"] == ["/v2/snaps"]


@pytest.mark.parametrize(("status", "body", "logged"), [
    pytest.param(500, b'{"type":"error"}', "HTTP 500", id="server-error"),
    pytest.param(200, b"<html>", "not JSON", id="not-json"),
])
def test_a_misbehaving_snapd_is_logged(snapd: tuple[Path, dict[str, Any]], caplog: pytest.LogCaptureFixture,
                                       status: int, body: bytes, logged: str) -> None:
    socket, answer = snapd
    answer.update(status=status, body=body)
    assert read_snaps(socket) == []
    assert logged in caplog.text


def test_no_snapd_means_no_snaps(tmp_path: Path) -> None:
    assert read_snaps(tmp_path / "absent.socket") == []


@pytest.mark.parametrize("header", [pytest.param("", id="no-header"),
                                    pytest.param("Application ID\\tVersion\\tArch\\tOrigin\\tInstallation\\n",
                                                 id="old-flatpak-header")])
def test_flatpak_apps_and_runtimes(tools: Path, nowhere: LinuxPlaces, header: str) -> None:
    _tool(tools, "flatpak", f"[ \"$*\" = 'list --app --runtime "
                            f"--columns=application,version,arch,origin,installation' ] || exit 9\n"
                            f"printf '{header}org.mozilla.firefox\\t121.0\\tx86_64\\tflathub\\tsystem\\n"
                            "org.freedesktop.Platform\\t23.08.10\\tx86_64\\tflathub\\tsystem\\n"
                            "org.freedesktop.Platform.GL.default\\t\\tx86_64\\tflathub\\tuser\\n'\n")
    assert collect_software(search_path=str(tools), places=Places(linux=nowhere)) == [
        SoftwareItem(name="org.freedesktop.Platform", version="23.08.10", source="flatpak", arch="x86_64",
                     publisher="flathub"),
        SoftwareItem(name="org.freedesktop.Platform.GL.default", version="", source="flatpak", arch="x86_64",
                     publisher="flathub"),
        SoftwareItem(name="org.mozilla.firefox", version="121.0", source="flatpak", arch="x86_64",
                     publisher="flathub"),
    ]


def test_dpkg_install_dates_come_from_the_list_files_unless_lean(tools: Path, tmp_path: Path,
                                                                  nowhere: LinuxPlaces) -> None:
    _tool(tools, "dpkg-query", "printf 'ii \\tcurl\\t7.88\\tamd64\\tM\\nii \\tlibc6\\t2.36\\tamd64\\tM\\n"
                               "ii \\tno-list\\t1\\tall\\tM\\n'\n")
    info = tmp_path / "info"
    info.mkdir()
    for name, when in (("curl.list", datetime(2024, 3, 1, 12, tzinfo=UTC)),
                       ("libc6:amd64.list", datetime(2023, 7, 9, 8, tzinfo=UTC))):
        (info / name).write_text("/usr\n")
        os.utime(info / name, (when.timestamp(), when.timestamp()))
    places = Places(linux=LinuxPlaces(dpkg_info=info, snapd_socket=nowhere.snapd_socket))
    dated = {item.name: item.install_date for item in collect_software(search_path=str(tools), places=places)}
    assert dated == {"curl": date(2024, 3, 1), "libc6": date(2023, 7, 9), "no-list": None}
    lean = collect_software("lean", search_path=str(tools), places=places)
    assert [item.install_date for item in lean] == [None, None, None]


def test_tools_run_niced_inside_and_outside_the_collecting_thread(tools: Path) -> None:
    shutil.copy(shutil.which("nice") or "/usr/bin/nice", tools / "nice")
    before = current_niceness()
    niceness = Tool("other", ("nice",))  # `nice` without arguments prints the niceness it runs at
    inside, _cpu = run_at_low_priority(lambda: run_tool(niceness, str(tools)))
    outside = run_tool(niceness, str(tools))
    assert inside is not None and int(inside) >= LOW_NICENESS
    assert outside is not None and int(outside) >= LOW_NICENESS
    assert current_niceness() == before  # the agent's own thread keeps its priority


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="dpkg-query is absent: not a dpkg-based system")
def test_the_real_collector_finds_what_dpkg_query_lists() -> None:
    query = "${db:Status-Abbrev}\t${Package}\t${Architecture}\t${Version}\n"
    listed = subprocess.run(["dpkg-query", "-W", "-f", query], capture_output=True, text=True, check=True).stdout
    expected = {(name, arch, version) for status, name, arch, version in
                (line.split("\t") for line in listed.splitlines()) if status[1:2] == "i"}
    items = collect_software()
    found = {(item.name, item.arch, item.version) for item in items if item.source == "dpkg"}
    assert len(expected) > 10
    share = len(expected & found) / len(expected)
    assert share >= 0.95, f"only {share:.1%} of dpkg-query's packages found with the same version"
    dated = [item for item in items if item.source == "dpkg" and item.install_date is not None]
    assert len(dated) >= 0.95 * len(found)  # nearly every package has its .list file
