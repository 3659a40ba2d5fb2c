"""The script runner against real shells: hangs, forks, floods, signals, bad bytes, bad digests, run-as."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
from pathlib import Path

import psutil
import pytest

from agent.processes import MAX_STREAM_CHARS
from agent.scripting import (
    ScriptRefused,
    lookup_account,
    minimal_env,
    parameter_env,
    resolve_params,
    run_script,
    script_verdict,
)
from schemas.scripts import ScriptParameter

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="these scripts are POSIX shell")


def run(text: str, *, shell: str = "bash", timeout: float = 30, **options):  # type: ignore[no-untyped-def]
    digest = hashlib.sha256(text.encode()).hexdigest()
    return run_script(text, shell=shell, sha256=digest, timeout=timeout, **options)


def gone(pid: int) -> bool:
    """Dead: no such process, or a zombie waiting for an init that may not reap in a container."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_exit_code_output_and_evidence() -> None:
    result = run("echo checking\necho 'disk is 42% full'\necho oops >&2\nexit 1\n")
    assert (result.exit_code, result.signal, result.timed_out) == (1, None, False)
    assert result.stdout == "checking\ndisk is 42% full\n"
    assert result.stderr == "oops\n"
    assert result.evidence == "disk is 42% full"
    assert script_verdict(result) == "non_compliant"


def test_a_hanging_script_is_killed_at_its_timeout() -> None:
    result = run("echo before\nsleep 3600\necho after\n", timeout=1)
    assert result.timed_out
    assert result.signal == signal.SIGKILL and result.exit_code is None
    assert result.duration_seconds < 10
    assert result.stdout == "before\n"
    assert script_verdict(result) == "error"
    assert "timed out" in result.describe()


def test_timeout_kills_forked_grandchildren_that_hold_the_pipes() -> None:
    # The grandchild keeps stdout open and outlives its parent's parent unless the whole group dies.
    text = "( bash -c 'echo grandchild $$; exec sleep 3600' & )\nsleep 0.2\necho parent waiting\nsleep 3600\n"
    result = run(text, timeout=2)
    assert result.timed_out and not result.left_running
    assert result.duration_seconds < 15
    pid = int(re.search(r"grandchild (\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    assert gone(pid)


def test_a_background_child_left_behind_does_not_hang_a_finished_script() -> None:
    result = run("bash -c 'echo child $$; exec sleep 3600' &\nsleep 0.2\necho done\nexit 0\n", timeout=120)
    assert (result.exit_code, result.timed_out) == (0, False)
    assert result.duration_seconds < 15, "the runner waited for the background child"
    assert result.evidence == "done"
    pid = int(re.search(r"child (\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    assert gone(pid)


def test_a_script_that_closes_its_output_still_times_out() -> None:
    result = run("exec >&- 2>&-\nsleep 3600\n", timeout=1)
    assert result.timed_out and result.signal == signal.SIGKILL
    assert result.duration_seconds < 10


def test_a_process_that_escaped_the_group_is_abandoned_not_waited_for() -> None:
    result = run("setsid bash -c 'echo escaped $$; exec sleep 3600' &\nsleep 0.2\necho done\n", timeout=60)
    pid = int(re.search(r"escaped (\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    try:
        assert (result.exit_code, result.timed_out, result.left_running) == (0, False, True)
        assert result.duration_seconds < 15
    finally:
        os.kill(pid, signal.SIGKILL)


def test_an_output_flood_keeps_head_and_tail_within_the_cap() -> None:
    flood = 50 * 1024 * 1024
    result = run(f"echo first-line\nhead -c {flood} /dev/zero | tr '\\0' x\necho\necho last-line\n", timeout=120)
    assert result.exit_code == 0
    assert result.stdout_bytes == len("first-line\n") + flood + 1 + len("last-line\n")
    assert len(result.stdout) <= MAX_STREAM_CHARS
    assert result.stdout.startswith("first-line\nxxx")
    assert re.search(r"\[\.\.\. \d+ bytes cut \.\.\.\]", result.stdout)
    assert result.evidence == "last-line"


def test_a_stderr_flood_is_read_concurrently_with_stdout() -> None:
    # A runner that read stdout to the end first would deadlock on the full stderr pipe.
    result = run("head -c 5000000 /dev/zero >&2\necho fine\n", timeout=60)
    assert (result.exit_code, result.timed_out, result.stdout) == (0, False, "fine\n")
    assert result.stderr_bytes == 5_000_000


def test_exit_by_signal_is_an_error_naming_the_signal() -> None:
    result = run("echo about to crash\nkill -SEGV $$\n")
    assert (result.exit_code, result.signal, result.timed_out) == (None, signal.SIGSEGV, False)
    assert result.describe() == "killed by SIGSEGV"
    assert script_verdict(result) == "error"


def test_bytes_that_are_not_utf8_become_replacement_characters() -> None:
    result = run("printf 'ok \\377\\376 end \\303\\251\\n'\n")
    assert result.stdout == "ok \ufffd\ufffd end \u00e9\n"


def test_a_digest_mismatch_refuses_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f"touch {marker}\n"
    with pytest.raises(ScriptRefused, match=r"SHA-256 .* not the expected"):
        run_script(text, shell="sh", sha256=hashlib.sha256(b"something else").hexdigest(), timeout=10,
                   work_root=tmp_path)
    assert not marker.exists()
    assert list(tmp_path.iterdir()) == [], "nothing may be written before the digest is checked"


def test_the_environment_is_explicit_and_holds_no_agent_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETWARD_AGENT_CREDENTIAL", "s3cret-token")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    text = "import json, os\nprint(json.dumps({'env': dict(os.environ), 'cwd': os.getcwd()}))\n"
    result = run(text, shell="python", params={"name": "web", "force": True, "count": 3})
    assert result.exit_code == 0, result.stderr
    seen = json.loads(result.stdout)
    env = seen["env"]
    assert "s3cret-token" not in result.stdout and "also-secret" not in result.stdout
    assert set(env) == {"PATH", "HOME", "TMPDIR", "LANG", "PARAM_name", "PARAM_force", "PARAM_count"}
    assert (env["LANG"], env["PARAM_name"], env["PARAM_force"], env["PARAM_count"]) == ("C.UTF-8", "web", "true", "3")
    assert env["HOME"] == env["TMPDIR"] == seen["cwd"]


def test_parameters_are_never_interpolated_into_the_script(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    value = f"$(touch {marker}); `touch {marker}`"
    result = run('printf "%s\\n" "$PARAM_target"\n', params={"target": value})
    assert result.stdout == value + "\n"
    assert not marker.exists()


def test_the_working_folder_is_private_and_removed_afterwards(tmp_path: Path) -> None:
    result = run("pwd\nstat -c %a .\nls\necho data > left-behind.txt\n", work_root=tmp_path)
    folder, mode, listing = result.stdout.splitlines()
    assert mode == "700"
    assert listing == "script.sh"
    assert Path(folder).parent == tmp_path
    assert not Path(folder).exists()
    assert list(tmp_path.iterdir()) == []


def test_a_missing_interpreter_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ScriptRefused, match="zsh is not installed") as refused:
        run("echo hi\n", shell="zsh", search_path=str(tmp_path))
    assert "limit the Script's os list" in refused.value.hint
    with pytest.raises(ScriptRefused, match="unknown shell 'fish'"):
        run("echo hi\n", shell="fish")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="switching users needs root; CI runs the agent tests as root")
def test_run_as_another_user_when_root(tmp_path: Path) -> None:
    result = run("id -un\nid -u\npwd\ntouch mine\nstat -c %U mine\n", run_as="nobody")
    assert result.exit_code == 0, result.stderr
    name, uid, folder, owner = result.stdout.splitlines()
    assert (name, owner) == ("nobody", "nobody")
    assert int(uid) != 0
    assert not Path(folder).exists()
    # pytest's tmp_path is under a 0700 folder of root's: the refusal says so instead of "Permission denied".
    with pytest.raises(ScriptRefused, match=r"user 'nobody' cannot enter .* \(mode 0700\)"):
        run("id -un\n", run_as="nobody", work_root=tmp_path)


def test_run_as_is_refused_without_root_unknown_users_and_on_windows() -> None:
    with pytest.raises(ScriptRefused, match="agent runs as uid 1000, and only root may switch users"):
        lookup_account("nobody", euid=1000)
    with pytest.raises(ScriptRefused, match="not supported on Windows yet"):
        lookup_account("nobody", platform_name="win32")
    if os.geteuid() == 0:
        with pytest.raises(ScriptRefused, match="no such local user"):
            lookup_account("no-such-user-fleetward")
    assert lookup_account(None) is None


@pytest.mark.parametrize(("given", "message"), [
    pytest.param({"colour": "x"}, "declares no parameter 'colour'", id="unknown"),
    pytest.param({}, "needs parameter 'service'", id="missing-required"),
    pytest.param({"service": "ssh", "days": "7"}, "'days' .* must be a integer", id="string-for-integer"),
    pytest.param({"service": 1.5}, "'service' .* must be a string", id="float-for-string"),
    pytest.param({"service": "ssh", "strict": 1}, "'strict' .* must be a boolean", id="int-for-boolean"),
])
def test_parameters_are_checked_against_the_declaration(given: dict, message: str) -> None:
    declared = [ScriptParameter(name="service", required=True), ScriptParameter(name="days", type="integer",
                                                                                default=30),
                ScriptParameter(name="strict", type="boolean")]
    with pytest.raises(ScriptRefused, match=message):
        resolve_params(declared, given, script="check-service")


def test_defaults_fill_in_and_booleans_become_true_false() -> None:
    declared = [ScriptParameter(name="service", required=True), ScriptParameter(name="days", type="integer",
                                                                                default=30),
                ScriptParameter(name="strict", type="boolean", default=False)]
    values = resolve_params(declared, {"service": "ssh"}, script="check-service")
    assert parameter_env(values) == {"PARAM_service": "ssh", "PARAM_days": "30", "PARAM_strict": "false"}


@pytest.mark.parametrize(("params", "message"), [
    pytest.param({"bad-name": "x"}, "cannot be an environment variable", id="name"),
    pytest.param({"x": "a\0b"}, "NUL", id="nul"),
    pytest.param({"x": "a" * 40_000}, "over 32768 characters", id="too-long"),
])
def test_unusable_parameters_are_refused(params: dict, message: str) -> None:
    with pytest.raises(ScriptRefused, match=message):
        parameter_env(params)


def test_windows_environment_keeps_only_system_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYSTEMROOT", r"C:\Windows")
    monkeypatch.setenv("API_TOKEN", "secret")
    env = minimal_env(r"C:\ProgramData\fleetward\tmp\x", platform_name="win32")
    assert env["SYSTEMROOT"] == r"C:\Windows"
    assert env["PATH"].startswith(r"C:\Windows\System32;")
    assert env["TEMP"] == env["USERPROFILE"] == r"C:\ProgramData\fleetward\tmp\x"
    assert "API_TOKEN" not in env


@pytest.mark.parametrize(("code", "expect", "verdict"), [
    pytest.param(0, 0, "compliant", id="0"), pytest.param(1, 0, "non_compliant", id="1"),
    pytest.param(2, 0, "error", id="2"), pytest.param(3, 3, "compliant", id="expected-3"),
    pytest.param(0, 3, "non_compliant", id="0-when-3-expected"),
])
def test_exit_codes_follow_the_library_contract(code: int, expect: int, verdict: str) -> None:
    assert script_verdict(run(f"exit {code}\n", shell="sh"), expect) == verdict
