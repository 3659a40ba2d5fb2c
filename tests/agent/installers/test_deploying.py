"""The job path with the ``script`` type and real processes: bad input fails clearly and never loops."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.installers.deploying import NativePackages
from agent.installers.exitcodes import RETRY_AFTER_SECONDS
from agent.installers.locking import install_lock
from agent.installers.processes import run_command
from agent.state import DataDir
from tests.agent.installers.debs import native_spec
from tests.agent.servers import ArtifactServer
from tests.support.running import wait_until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the script installer tests use /bin/sh")


def script_installer(tmp_path: Path, text: str, **extra: object) -> dict[str, object]:
    marker = tmp_path / "installed"
    return {"os": "linux", "type": "script", "script": {"shell": "sh", "text": text},
            "detection": [{"type": "file", "path": str(marker)}],
            "uninstall": {"command": ["/bin/rm", "-f", str(marker)]}, **extra}


def test_install_and_uninstall_with_a_script(native: NativePackages, tmp_path: Path, data_dir: DataDir) -> None:
    marker = tmp_path / "installed"
    spec = native_spec(script_installer(tmp_path, f'echo "$FLEETWARD_PACKAGE_VERSION" > {marker}'))
    outcome = native.execute(spec)
    assert (outcome.status, outcome.message) == ("succeeded", "installed hello-deb 1.0"), outcome.output
    assert marker.read_text() == "1.0\n"
    assert (data_dir.receipts_dir / "hello-deb.json").exists()
    removed = native.execute(native_spec(script_installer(tmp_path, "true"), seq=2, action="uninstall"))
    assert (removed.status, removed.message) == ("succeeded", "uninstalled hello-deb 1.0")
    assert not marker.exists()
    assert not list((data_dir.cache_dir / "jobs").iterdir())  # the work folder is cleaned up


def test_a_hanging_installer_is_killed_with_its_children(native: NativePackages, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    text = f"sleep 300 & echo $! > {pids}; wait"
    outcome = native.execute(native_spec(script_installer(tmp_path, text, timeoutSeconds=1)))
    assert outcome.status == "failed"
    assert outcome.reason == "install timed out after 1s; its process tree was killed"
    child = int(pids.read_text())
    wait_until(lambda: not _alive(child), timeout=10, what="the installer's child to be gone")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True, check=False)
    return state.stdout.strip()[:1] not in ("Z", "")


def test_an_exit_code_in_no_map_fails_and_names_it(native: NativePackages, tmp_path: Path) -> None:
    outcome = native.execute(native_spec(script_installer(tmp_path, "exit 42")))
    assert outcome.status == "failed"
    assert outcome.reason == ("install failed: exit code 42 (0x0000002A) is not in the exit-code map of 'script' "
                              "installers; add it to exitCodes if it means success")


def test_mapped_codes_request_reboots_and_retries(native: NativePackages, tmp_path: Path) -> None:
    # POSIX exit codes stop at 255, so the Package maps its own codes (as an exe's vendor codes would be).
    marker = tmp_path / "installed"
    rebooting = native.execute(native_spec(script_installer(tmp_path, f"touch {marker}; exit 194",
                                                            exitCodes={194: "rebootSoft"})))
    assert (rebooting.status, rebooting.reboot) == ("succeeded", "soft")
    assert rebooting.message == "installed hello-deb 1.0; reboot required (soft), requested, not performed"
    marker.unlink()
    busy = native.execute(native_spec(script_installer(tmp_path, "exit 75", exitCodes={75: "retryLater"}),
                                      seq=2))
    assert (busy.status, busy.retry_after_seconds) == ("failed", RETRY_AFTER_SECONDS)
    assert busy.message == "install failed (retry later)"


def test_a_detection_rule_that_never_passes_fails_once(native: NativePackages, tmp_path: Path) -> None:
    outcome = native.execute(native_spec(script_installer(tmp_path, "echo pretending")))
    assert outcome.status == "failed"
    assert outcome.reason == (f"the installer reported success but detection still fails: file "
                              f"{tmp_path / 'installed'}: not installed")
    assert outcome.output.count("detect after") == 1


def _signed(body: bytes, *, tamper: bool = False) -> dict[str, str]:
    key = Ed25519PrivateKey.generate()
    digest = hashlib.sha256(body + (b"x" if tamper else b"")).digest()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"publicKey": base64.b64encode(raw).decode(), "signature": base64.b64encode(key.sign(digest)).decode()}


@pytest.mark.parametrize("tamper", [pytest.param(False, id="good"), pytest.param(True, id="bad")])
def test_a_publisher_signature_is_checked_before_execution(native: NativePackages, tmp_path: Path,
                                                           artifact_server: ArtifactServer, tamper: bool) -> None:
    body = b"payload\n"
    marker = tmp_path / "installed"
    url = artifact_server.add("payload.txt", body)
    installer = script_installer(tmp_path, f'cp "$FLEETWARD_ARTIFACT" {marker}', url=url,
                                 sha256=hashlib.sha256(body).hexdigest(), size=len(body),
                                 signature=_signed(body, tamper=tamper))
    outcome = native.execute(native_spec(installer))
    if tamper:
        assert outcome.status == "failed" and "publisher signature does not match" in outcome.reason
        assert not marker.exists() and "$ /bin/sh" not in outcome.output
    else:
        assert outcome.status == "succeeded", outcome.output
        assert marker.read_bytes() == body and "publisher signature verified" in outcome.output


def test_a_failing_pre_install_script_stops_the_install(native: NativePackages, tmp_path: Path) -> None:
    marker = tmp_path / "installed"
    outcome = native.execute(native_spec(script_installer(tmp_path, f"touch {marker}",
                                                          preInstall={"shell": "sh", "text": "exit 5"})))
    assert (outcome.status, outcome.reason) == ("failed", "the preinstall script failed: exit code 5")
    assert not marker.exists()


def test_one_install_at_a_time(data_dir: DataDir, tmp_path: Path) -> None:
    from tests.agent.installers.conftest import make_native

    native = make_native(data_dir, lock_wait_seconds=0.3)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with install_lock(data_dir.root / "install.lock", wait_seconds=1):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(5)
        started = time.monotonic()
        outcome = native.execute(native_spec(script_installer(tmp_path, "true")))
        assert (outcome.status, outcome.retry_after_seconds) == ("failed", RETRY_AFTER_SECONDS)
        assert "another install is running" in outcome.reason
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join()


def test_run_command_caps_output_and_reports_a_missing_tool() -> None:
    done = run_command(["/bin/sh", "-c", "yes fleetward | head -c 100000"], timeout=10, max_output_chars=1000)
    assert done.code == 0 and 900 < len(done.output) <= 1000
    assert "bytes cut" in done.output and done.output.endswith("fleetward")
    missing = run_command(["/nonexistent/tool"], timeout=5)
    assert missing.code is None and missing.error.startswith("cannot run /nonexistent/tool")
