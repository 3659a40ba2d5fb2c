"""Fixtures for the agent tests: keys, loopback servers, data dirs and a way to run the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.settings import AgentSettings
from agent.state import AgentConfig, DataDir
from tests.agent.builders import AGENT_ID, NOW, Signer
from tests.agent.servers import ArtifactServer, StubController

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def artifact_server() -> Iterator[ArtifactServer]:
    with ArtifactServer().running() as server:
        yield server


@pytest.fixture
def controller(signer: Signer) -> Iterator[StubController]:
    with StubController(signing_keys=[signer.signing_key]).running() as stub:
        yield stub


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    folder = DataDir(tmp_path / "agent-data")
    folder.create()
    return folder


@pytest.fixture
def enrolled(data_dir: DataDir, controller: StubController, signer: Signer) -> DataDir:
    """A data dir enrolled with the stub controller (as ``enroll`` would leave it)."""
    data_dir.save_config(AgentConfig(
        server=controller.base, agent_id=AGENT_ID, client=controller.client,
        credential=controller.credential, signing_keys=[signer.signing_key], enrolled_at=NOW,
    ))
    return data_dir


@pytest.fixture
def settings(data_dir: DataDir) -> AgentSettings:
    return AgentSettings(data_dir=data_dir.root, http_timeout_seconds=5, download_timeout_seconds=5)


def command() -> list[str]:
    script = Path(sys.executable).parent / "fleetward-agent"
    return [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli"]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    # The repo first on the path, so the subprocess imports this checkout of the agent.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_cli(*args: str, timeout: float = 30, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command(), *args], capture_output=True, text=True, timeout=timeout,
                          env=subprocess_env(), check=False, **kwargs)  # type: ignore[call-overload]


@pytest.fixture
def cli() -> object:
    """Run ``fleetward-agent`` as a real subprocess: ``cli("run", "--once", ...)``."""
    return run_cli


@pytest.fixture(autouse=True)
def _calm_machine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Agent cycles in these tests watch a calm machine, not this one: a nearly full disk or a busy
    CPU on the test host must not add alerts to the exchanges the tests assert. The monitors' own
    tests (tests/agent/monitoring) give their probes explicitly."""
    from agent.monitoring.probes import Probes, VolumeUsage

    calm = Probes(cpu_seconds=lambda: (0.0, 1.0), memory_percent=lambda: 10.0,
                  volumes=lambda: [VolumeUsage("/", "ext4", 100 * 2**30, 90 * 2**30)],
                  process_names=set, reboot_pending=lambda: False)
    monkeypatch.setattr(Probes, "system", classmethod(lambda cls, **_kwargs: calm))
