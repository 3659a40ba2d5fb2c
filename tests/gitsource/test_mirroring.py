"""Keeping the bare mirror fresh: create, fetch, prune, read commits; fail fast and clearly."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from controller.errors import ConfigError, NotFound, SourceUnavailable
from controller.gitsource import RepoMirror
from tests.support.gitrepos import commit, git, init_repo


def test_ensure_creates_a_bare_mirror_and_is_idempotent(mirror, tmp_path):
    mirror.ensure()
    mirror.ensure()
    assert git(mirror.path, "rev-parse", "--is-bare-repository") == "true"
    assert git(mirror.path, "config", "remote.origin.url") == str(tmp_path / "remote.git")
    again = RepoMirror(str(tmp_path / "remote.git"), mirror.path)
    again.ensure()  # a second controller start on the same data dir
    again.close()
    assert not [p for p in mirror.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_fetch_sees_new_commits_on_main_and_other_branches(remote, mirror):
    first = mirror.fetch()
    assert first == {"main": git(remote.bare, "rev-parse", "main")}
    on_main = remote.push({"clients/acme/client.yaml": "kind: Client\n"}, "add acme")
    on_feature = remote.push({"x.yaml": "x: 1\n"}, "proposal", branch="proposals/x")
    assert mirror.fetch() == {"main": on_main, "proposals/x": on_feature}
    assert mirror.head("main") == on_main
    assert mirror.head("missing") is None


def test_deleted_branches_disappear_on_fetch(remote, mirror):
    remote.push({"x.yaml": "x: 1\n"}, branch="old")
    assert "old" in mirror.fetch()
    git(remote.bare, "branch", "-D", "old")
    assert "old" not in mirror.fetch()
    assert mirror.head("old") is None


def test_commit_info_reports_author_time_and_summary(remote, mirror):
    sha = remote.push({"a.yaml": "a: 1\n"}, "Deploy hello-tool to ACME\n\nLonger body.")
    mirror.fetch()
    info = mirror.commit_info(sha)
    assert (info.sha, info.author_name, info.author_email, info.summary) == (
        sha, "Fleetward Tests", "tests@fleetward.invalid", "Deploy hello-tool to ACME")
    assert info.committed_at.utcoffset() is not None
    assert abs(info.committed_at.timestamp() - time.time()) < 120
    with pytest.raises(NotFound, match="not in the repository mirror"):
        mirror.commit_info("0" * 40)


def test_commit_info_keeps_the_committers_offset(tmp_path, monkeypatch):
    work = init_repo(tmp_path / "work")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-03-01T10:00:00+05:30")
    sha = commit(work, {"a": "1"})
    mirror = RepoMirror(str(work), tmp_path / "m.git")
    mirror.fetch()
    info = mirror.commit_info(sha)
    mirror.close()
    assert info.committed_at.utcoffset() == timedelta(hours=5, minutes=30)
    assert info.committed_at.isoformat() == "2024-03-01T10:00:00+05:30"


def test_a_mirror_of_another_repository_is_refused(remote, mirror, tmp_path):
    mirror.ensure()
    other = RepoMirror(str(init_repo(tmp_path / "other", bare=True)), mirror.path)
    with pytest.raises(ConfigError) as raised:
        other.ensure()
    assert f"mirrors {remote.bare}, not {tmp_path / 'other'}" in raised.value.message
    assert f"remove {mirror.path}" in raised.value.hint


def test_changed_credentials_in_the_url_are_taken_over(tmp_path):
    path = tmp_path / "m.git"
    RepoMirror("https://bot:old-token@git.example.invalid/msp/fleet.git", path).ensure()
    RepoMirror("https://bot:new-token@git.example.invalid/msp/fleet.git", path).ensure()
    assert git(path, "config", "remote.origin.url") == "https://bot:new-token@git.example.invalid/msp/fleet.git"


@pytest.mark.parametrize("occupant", ["file", "work-tree", "junk-folder"])
def test_a_mirror_path_that_is_something_else_is_refused(tmp_path, occupant):
    path = tmp_path / "repo.git"
    if occupant == "file":
        path.write_text("x")
    elif occupant == "work-tree":
        init_repo(path)
    else:
        path.mkdir()
        (path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match=str(path)):
        RepoMirror(str(tmp_path), path).ensure()


def test_an_empty_folder_becomes_the_mirror(remote, tmp_path):
    path = tmp_path / "repo.git"
    path.mkdir()
    made = RepoMirror(str(remote.bare), path)
    assert "main" in made.fetch()
    made.close()


def test_a_missing_local_source_is_unavailable_with_the_reason(tmp_path):
    mirror = RepoMirror(str(tmp_path / "nowhere"), tmp_path / "m.git")
    with pytest.raises(SourceUnavailable) as raised:
        mirror.fetch()
    assert raised.value.retryable
    assert f"git fetch from {tmp_path / 'nowhere'} failed" in raised.value.message
    assert "does not appear to be a git repository" in raised.value.message


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_closed_port_fails_fast_and_redacts_credentials(tmp_path):
    url = f"http://fleet-bot:s3cret-token@127.0.0.1:{_free_port()}/msp/fleet.git"
    mirror = RepoMirror(url, tmp_path / "m.git", timeout=10)
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as raised:
        mirror.fetch()
    assert time.monotonic() - started < 5
    text = f"{raised.value} {raised.value.hint}"
    assert "s3cret-token" not in text and "fleet-bot" not in text
    assert "http://***@127.0.0.1" in text
    assert "Failed to connect" in text or "Couldn't connect" in text


def test_a_server_that_never_answers_is_cut_off_at_the_timeout(tmp_path):
    # Accepts connections (the kernel completes the handshake) and never says a word.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        mirror = RepoMirror(f"http://127.0.0.1:{port}/fleet.git", tmp_path / "m.git", timeout=1.0)
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match=r"timed out after 1s"):
            mirror.fetch()
        assert time.monotonic() - started < 5


def test_no_prompt_for_missing_credentials(tmp_path):
    # A server asking for a password: with GIT_TERMINAL_PROMPT=0 git gives up at once.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]

        def answer_401() -> None:
            for _ in range(4):
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                with connection:
                    connection.recv(65536)
                    connection.sendall(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n"
                                       b"Content-Length: 0\r\nConnection: close\r\n\r\n")

        thread = threading.Thread(target=answer_401, daemon=True)
        thread.start()
        mirror = RepoMirror(f"http://127.0.0.1:{port}/fleet.git", tmp_path / "m.git", timeout=20)
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match="terminal prompts disabled"):
            mirror.fetch()
        assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("source", "local"),
    [
        pytest.param("relative/fleet", True, id="relative-path"),
        pytest.param("file:///srv/fleet.git", True, id="file-url"),
        pytest.param("https://git.example.invalid/msp/fleet.git", False, id="https"),
        pytest.param("git@git.example.invalid:msp/fleet.git", False, id="scp-like"),
        pytest.param("ssh://git@git.example.invalid/msp/fleet.git", False, id="ssh-url"),
    ],
)
def test_local_sources_are_recognised(tmp_path, monkeypatch, source, local):
    monkeypatch.chdir(tmp_path)
    assert RepoMirror(source, tmp_path / "m.git").is_local is local


def test_local_git_dir_of_a_work_tree_a_bare_repo_and_a_non_repo(remote, tmp_path):
    assert RepoMirror(str(remote.work), tmp_path / "a.git").local_git_dir == remote.work / ".git"
    assert RepoMirror(str(remote.bare), tmp_path / "b.git").local_git_dir == remote.bare
    assert RepoMirror(str(tmp_path / "none"), tmp_path / "c.git").local_git_dir is None
    assert RepoMirror("https://git.example.invalid/x.git", tmp_path / "d.git").local_git_dir is None


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("--upload-pack=touch /tmp/pwned", "starts with '-'", id="option-injection"),
        pytest.param("ext::sh -c touch% /tmp/pwned", "remote helper", id="ext-helper"),
        pytest.param("ftp://host/fleet.git", "unsupported scheme 'ftp'", id="ftp"),
        pytest.param("https://host/fleet.git\nevil", "control characters", id="newline"),
    ],
)
def test_bad_addresses_are_config_errors(tmp_path, source, complaint):
    with pytest.raises(ConfigError, match=complaint):
        RepoMirror(source, tmp_path / "m.git")


def test_a_bad_address_is_reported_without_its_credentials(tmp_path):
    with pytest.raises(ConfigError) as raised:
        RepoMirror("gopher://bot:hunter2@host/fleet.git", tmp_path / "m.git")
    assert "hunter2" not in str(raised.value)
    assert "gopher://***@host/fleet.git" in str(raised.value)


@pytest.mark.parametrize("branch", [
    pytest.param("", id="empty"),
    pytest.param("-x", id="option"),
    pytest.param("a..b", id="double-dot"),
    pytest.param("a b", id="space"),
    pytest.param("x.lock", id="lock-suffix"),
    pytest.param("refs/heads/x", id="full-ref"),
    pytest.param("a/*", id="glob"),
    pytest.param("HEAD", id="head"),
])
def test_bad_branch_names_are_config_errors(mirror, branch):
    with pytest.raises(ConfigError, match="is not valid"):
        mirror.head(branch)


def test_the_mirror_is_usable_from_a_path_given_relative(remote, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    made = RepoMirror("remote.git", Path("data/repo.git"))
    monkeypatch.chdir(remote.work)
    assert "main" in made.fetch()
    made.close()
