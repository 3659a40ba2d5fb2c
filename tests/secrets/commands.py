"""Run ``fleetward seal`` as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def fleetward(*args: str, stdin: str | bytes | None = None, home: Path | None = None,
              ) -> subprocess.CompletedProcess[str]:
    """``fleetward ARGS`` with ``stdin`` piped in (empty when None); text output."""
    env = {**os.environ}
    if home is not None:
        env["FLEETWARD_DATA_DIR"] = str(home)
    data = stdin.encode("utf-8") if isinstance(stdin, str) else (stdin or b"")
    done = subprocess.run([sys.executable, "-m", "controller.cli.main", *args], input=data, capture_output=True,
                          timeout=120, check=False, env=env)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8"),
                                       done.stderr.decode("utf-8"))
