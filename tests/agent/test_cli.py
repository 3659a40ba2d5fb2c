"""``fleetward-agent`` as a real subprocess: flags, output, exit codes, and secrets kept out of output."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agent.builders import Signer, hello_tar, spec_for
from tests.agent.servers import StubController


def _enroll(cli, controller: StubController, data: Path, *extra: str):
    return cli("enroll", "--server", controller.base, "--token", controller.token, "--data-dir", str(data),
               *extra)


@pytest.mark.parametrize(
    "args",
    [pytest.param([], id="top"), pytest.param(["enroll"], id="enroll"), pytest.param(["run"], id="run"),
     pytest.param(["inventory"], id="inventory")],
)
def test_help_everywhere(cli, args: list[str]) -> None:
    done = cli(*args, "--help")
    assert done.returncode == 0
    assert "usage: fleetward-agent" in done.stdout
    assert len(done.stdout.splitlines()) > 5


def test_version(cli) -> None:
    done = cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("fleetward-agent ")


def test_python_dash_m_agent_is_the_same_cli() -> None:
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "agent", "--version"], capture_output=True, text=True,
                          cwd=repo, check=False)
    assert done.returncode == 0 and done.stdout.startswith("fleetward-agent ")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(["run", "--once"], 2, "the following arguments are required: --data-dir",
                     id="run-without-data-dir"),
        pytest.param(["enroll", "--server", "https://x.example", "--token", "t"], 2,
                     "the following arguments are required: --data-dir", id="enroll-without-data-dir"),
        pytest.param(["run", "--data-dir", "{tmp}", "--format", "yaml"], 2, "invalid choice",
                     id="bad-format"),
        pytest.param(["enroll", "--server", "https://x.example", "--token", "t", "--data-dir", "{tmp}",
                      "--label", "site"], 3, "--label 'site' is not key=value", id="label-without-equals"),
        pytest.param(["enroll", "--server", "https://x.example", "--token", "t", "--data-dir", "{tmp}",
                      "--label", "bad!key=x"], 3, "is not a valid label key", id="label-bad-key"),
        pytest.param(["enroll", "--server", "https://x.example", "--token", "t", "--data-dir", "{tmp}",
                      "--label", "os=windows"], 3, "is set by the agent's facts", id="label-reserved"),
        pytest.param(["enroll", "--server", "http://203.0.113.7", "--token", "t", "--data-dir", "{tmp}"], 3,
                     "plain http to a non-loopback host", id="insecure-server"),
        pytest.param(["run", "--once", "--data-dir", "{tmp}"], 3, "holds no enrolment", id="not-enrolled"),
        pytest.param(["run", "--data-dir", "{tmp}"], 3, "holds no enrolment", id="service-not-enrolled"),
    ],
)
def test_usage_and_configuration_errors(cli, tmp_path: Path, args: list[str], code: int,
                                        message: str) -> None:
    done = cli(*[arg.replace("{tmp}", str(tmp_path / "data")) for arg in args])
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    if code == 3:
        lines = done.stderr.strip().splitlines()
        assert lines[0].startswith("error: ") and lines[1].startswith("hint: ")


def test_enroll_stores_a_private_identity_and_never_prints_the_credential(cli, controller: StubController,
                                                                          tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = _enroll(cli, controller, data, "--label", "site=berlin", "--label", "team/tier=gold")
    assert done.returncode == 0, done.stderr
    assert f"enrolled as agent {controller.agent_id}" in done.stdout and "client: acme" in done.stdout
    assert controller.credential not in done.stdout + done.stderr
    assert controller.token not in done.stdout + done.stderr
    stored = json.loads((data / "agent.json").read_text())
    assert stored["credential"] == controller.credential and stored["allow_insecure_http"] is False
    assert stat.S_IMODE((data / "agent.json").stat().st_mode) == 0o600
    (body,) = controller.calls("/enroll")
    assert body["labels"] == {"site": "berlin", "team/tier": "gold"}
    assert body["facts"]["os"] == "linux"


def test_enrolling_again_needs_force(cli, controller: StubController, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _enroll(cli, controller, data).returncode == 0
    again = _enroll(cli, controller, data)
    assert again.returncode == 3 and "already enrolled" in again.stderr and "--force" in again.stderr
    (data / "state.json").write_text(json.dumps({"seen_seq": 41}))
    controller.agent_id = "a_" + "9" * 32  # the controller makes a new device
    forced = _enroll(cli, controller, data, "--force", "--format", "json")
    assert forced.returncode == 0
    assert json.loads(forced.stdout)["agent_id"] == controller.agent_id
    # Job seqs are per agent: the new identity starts from zero.
    assert json.loads((data / "state.json").read_text())["seen_seq"] == 0


def test_a_bad_enrolment_token_exits_4(cli, controller: StubController, tmp_path: Path) -> None:
    done = cli("enroll", "--server", controller.base, "--token", "wrong", "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 4
    assert "error: the controller rejected the enrolment token" in done.stderr
    assert not (tmp_path / "d" / "agent.json").exists()


def test_the_token_can_come_from_a_file(cli, controller: StubController, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(controller.token + "\n")
    done = cli("enroll", "--server", controller.base, "--token-file", str(token_file),
               "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 0, done.stderr


def test_run_once_json(cli, controller: StubController, signer: Signer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _enroll(cli, controller, data).returncode == 0
    art = hello_tar(tmp_path / "hello-tool-1.0.0.tar.gz")
    good = signer.sign(spec_for(art, seq=1))
    tampered = signer.sign(spec_for(art, seq=2, action="upgrade"))
    tampered = tampered.model_copy(update={"payload": tampered.payload.replace("upgrade", "install")})
    controller.jobs = [good, tampered]

    done = cli("run", "--once", "--data-dir", str(data), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [(job["id"], job["result"]) for job in report["jobs"]] == [(good.job_id, "succeeded"),
                                                                      (tampered.job_id, "refused")]
    assert report["jobs"][0] | {"reason": None} == {
        "id": good.job_id, "action": "install", "package": "hello-tool", "version": "1.0.0",
        "result": "succeeded", "reason": None, "message": "installed 1.0.0", "resent": False,
        "delivered": True}
    assert "bad signature" in report["jobs"][1]["reason"]
    assert report["inventory"]["sent"] == ["facts", "hardware", "licenses", "managed", "network", "software"]
    assert (data / "software" / "hello-tool" / "1.0.0" / "hello" / "bin" / "hello").exists()
    assert controller.credential not in done.stdout + done.stderr

    text = cli("run", "--once", "--data-dir", str(data))
    assert text.returncode == 0, text.stderr
    assert "jobs: none" in text.stdout and "inventory: nothing to send" in text.stdout


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_run_once_with_the_controller_down_exits_5(cli, controller: StubController, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _enroll(cli, controller, data).returncode == 0
    stored = json.loads((data / "agent.json").read_text())
    stored["server"] = f"http://127.0.0.1:{_closed_port()}"
    (data / "agent.json").write_text(json.dumps(stored))
    done = cli("run", "--once", "--data-dir", str(data))
    assert done.returncode == 5
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("error: cannot reach the controller")
    assert lines[1].startswith("hint: ")


def test_run_once_with_a_rejected_credential_exits_4(cli, controller: StubController, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _enroll(cli, controller, data).returncode == 0
    controller.credential = "rotated-on-the-server"
    done = cli("run", "--once", "--data-dir", str(data))
    assert done.returncode == 4
    assert "re-enrol" in done.stderr


def test_the_agent_imports_nothing_from_the_controller_side() -> None:
    probe = ("import sys, agent.cli, agent.cycle, agent.looping; "
             "heavy = {'controller', 'sqlalchemy', 'git', 'fastapi', 'starlette', 'uvicorn', 'jinja2', "
             "'watchfiles', 'alembic'}; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))")
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=repo, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param(None, True, id="default-on"), pytest.param("off", False, id="off"),
    pytest.param("0", False, id="zero"), pytest.param("on", True, id="on"),
])
def test_reverse_dns_switch_is_read_from_the_environment(monkeypatch, tmp_path, value, expected):
    from agent.cli import _settings

    if value is None:
        monkeypatch.delenv("FLEETWARD_AGENT_REVERSE_DNS", raising=False)
    else:
        monkeypatch.setenv("FLEETWARD_AGENT_REVERSE_DNS", value)
    assert _settings(tmp_path).reverse_dns is expected
