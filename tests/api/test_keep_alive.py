"""An idle connection outlives the agent's own idle limit, so the agent is always the one to close it."""

from __future__ import annotations

import socket
import time

from agent.connection import IDLE_CONNECTION_SECONDS
from controller.serving import KEEP_ALIVE_SECONDS
from tests.support.fleets import minimal_fleet
from tests.support.gitrepos import commit, init_repo
from tests.support.running import run_controller


def _get_health(conn: socket.socket) -> bytes:
    conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = conn.recv(65536)
        if not chunk:
            return answer
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += conn.recv(65536)
    return head


def test_a_connection_idle_past_the_agents_limit_still_answers(tmp_path, sqlite_url):
    assert KEEP_ALIVE_SECONDS > IDLE_CONNECTION_SECONDS
    repo = init_repo(tmp_path / "fleet")
    commit(repo, minimal_fleet(), "fleet")
    with run_controller(str(repo), tmp_path / "controller", sqlite_url) as running:
        host, port = running.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            assert _get_health(conn).startswith(b"HTTP/1.1 200")
            time.sleep(IDLE_CONNECTION_SECONDS + 1.0)
            assert _get_health(conn).startswith(b"HTTP/1.1 200"), "the server closed an idle connection first"
