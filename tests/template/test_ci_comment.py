"""``fleetward ci comment`` against local servers that reproduce GitHub's and GitLab's comment APIs."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FakeHost:
    """Issue comments (GitHub) / merge request notes (GitLab), kept in memory, on 127.0.0.1."""

    def __init__(self, list_path: str, item_prefix: str, edit_method: str, auth: tuple[str, str]) -> None:
        self.comments: dict[int, str] = {}
        self.requests: list[tuple[str, str]] = []
        ids = itertools.count(1000)
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _reply(self, status: int, payload: object) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

            def _route(self, method: str) -> None:
                host.requests.append((method, self.path))
                if self.headers.get(auth[0]) != auth[1]:
                    self._reply(401, {"message": "Bad credentials"})
                    return
                path = self.path.split("?")[0]
                if method == "GET" and path == list_path:
                    self._reply(200, [{"id": i, "body": b} for i, b in host.comments.items()])
                elif method == "POST" and path == list_path:
                    comment_id = next(ids)
                    host.comments[comment_id] = self._body()["body"]
                    self._reply(201, {"id": comment_id, "body": host.comments[comment_id]})
                elif method == edit_method and path.startswith(item_prefix):
                    comment_id = int(path.rsplit("/", 1)[1])
                    host.comments[comment_id] = self._body()["body"]
                    self._reply(200, {"id": comment_id, "body": host.comments[comment_id]})
                else:
                    self._reply(404, {"message": "Not Found"})

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_PATCH(self) -> None:
                self._route("PATCH")

            def do_PUT(self) -> None:
                self._route("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github():
    host = FakeHost("/repos/msp/fleet/issues/12/comments", "/repos/msp/fleet/issues/comments/", "PATCH",
                    ("Authorization", "Bearer ghs_test"))
    host.comments[1] = "LGTM from a human"
    yield host
    host.close()


@pytest.fixture
def gitlab():
    host = FakeHost("/api/v4/projects/42/merge_requests/7/notes", "/api/v4/projects/42/merge_requests/7/notes/",
                    "PUT", ("PRIVATE-TOKEN", "glpat-test"))
    yield host
    host.close()


def comment(tmp_path, provider: str, env: dict[str, str], text: str, *extra: str):
    import os

    body = tmp_path / "plan.md"
    body.write_text(text)
    return subprocess.run([sys.executable, "-m", "controller.cli.main", "ci", "comment", "--provider", provider,
                           "--body-file", str(body), *extra], capture_output=True, text=True, check=False,
                          env={**os.environ, **env})


def test_github_comment_is_created_then_edited_in_place(tmp_path, github):
    env = {"GITHUB_TOKEN": "ghs_test", "GITHUB_REPOSITORY": "msp/fleet", "GITHUB_API_URL": github.url}
    first = comment(tmp_path, "github", env, "plan one", "--number", "12")
    second = comment(tmp_path, "github", env, "plan two", "--number", "12")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "created plan comment 1000" in first.stderr and "updated plan comment 1000" in second.stderr
    assert github.comments == {1: "LGTM from a human", 1000: "<!-- fleetward-plan -->\nplan two"}
    assert ("PATCH", "/repos/msp/fleet/issues/comments/1000") in github.requests


def test_gitlab_note_is_created_then_edited_in_place(tmp_path, gitlab):
    env = {"FLEETWARD_GITLAB_TOKEN": "glpat-test", "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
           "CI_API_V4_URL": f"{gitlab.url}/api/v4"}
    assert comment(tmp_path, "gitlab", env, "plan one").returncode == 0
    assert comment(tmp_path, "gitlab", env, "plan two").returncode == 0
    assert list(gitlab.comments.values()) == ["<!-- fleetward-plan -->\nplan two"]


def test_bad_credentials_fail_clearly(tmp_path, github):
    env = {"GITHUB_TOKEN": "wrong", "GITHUB_REPOSITORY": "msp/fleet", "GITHUB_API_URL": github.url}
    done = comment(tmp_path, "github", env, "plan", "--number", "12")
    assert done.returncode == 3 and "HTTP 401" in done.stderr and "wrong" not in done.stderr


def test_missing_ci_variables_say_what_is_needed(tmp_path):
    done = comment(tmp_path, "gitlab", {"CI_PROJECT_ID": ""}, "plan")
    assert done.returncode == 2 and "FLEETWARD_GITLAB_TOKEN" in done.stderr
