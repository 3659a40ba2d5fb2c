"""The data dir: atomic files, a private config, and one agent per directory."""

from __future__ import annotations

import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.errors import ConfigError, DataDirLocked, NotEnrolled
from agent.state import AgentConfig, AgentState, DataDir, write_atomic
from tests.agent.builders import AGENT_ID, Signer


def _config(signer: Signer) -> AgentConfig:
    return AgentConfig(server="https://fleet.example.com", agent_id=AGENT_ID, client="acme",
                       credential="top-secret-credential", signing_keys=[signer.signing_key])


def test_the_config_is_private_and_its_repr_hides_the_credential(data_dir: DataDir, signer: Signer) -> None:
    config = _config(signer)
    data_dir.save_config(config)
    assert stat.S_IMODE(data_dir.config_path.stat().st_mode) == 0o600
    assert data_dir.load_config() == config
    assert "top-secret-credential" not in repr(config)


def test_state_round_trips(data_dir: DataDir) -> None:
    data_dir.save_state(AgentState(seen_seq=9, inventory_hashes={"facts": "ab"}))
    assert data_dir.load_state().seen_seq == 9
    assert DataDir(data_dir.root / "fresh").load_state() == AgentState()


def test_an_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert [path.name for path in tmp_path.iterdir()] == ["f.json"]


def test_not_enrolled_says_how_to_enrol(tmp_path: Path) -> None:
    with pytest.raises(NotEnrolled) as caught:
        DataDir(tmp_path).load_config()
    assert "fleetward-agent enroll" in caught.value.hint


@pytest.mark.parametrize(
    ("content", "message"),
    [pytest.param(b"{not json", "not valid JSON", id="not-json"),
     pytest.param(b'{"server": 1}', "not a valid agent config", id="wrong-shape"),
     pytest.param(b" " * (1024 * 1024 + 1), "larger than", id="oversized")],
)
def test_a_damaged_config_is_named(data_dir: DataDir, content: bytes, message: str) -> None:
    data_dir.config_path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        data_dir.load_config()


def test_two_agents_never_share_a_data_dir(data_dir: DataDir) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from agent.state import DataDir
            with DataDir(Path({str(data_dir.root)!r})).locked():
                print("locked", flush=True)
                sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(DataDirLocked, match="another fleetward-agent"), data_dir.locked():
            pass
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    with data_dir.locked():  # free again once the other process is gone
        pass
