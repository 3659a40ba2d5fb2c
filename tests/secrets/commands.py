"""Run ``fleetward seal`` as a real process.

Until ``controller/cli/main.py`` lists the ``seal`` module, the launcher adds it to the
real parser; once it is listed, the launcher runs ``fleetward`` unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LAUNCHER = """
import argparse, sys
from controller.cli import main as cli, seal
original = cli.build_parser
def build_parser():
    parser = original()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "seal" not in commands.choices:
        seal.register(commands)
    return parser
cli.build_parser = build_parser
sys.exit(cli.main(sys.argv[1:]))
"""


def fleetward(*args: str, stdin: str | bytes | None = None, home: Path | None = None,
              ) -> subprocess.CompletedProcess[str]:
    """``fleetward ARGS`` with ``stdin`` piped in (empty when None); text output."""
    env = {**os.environ}
    if home is not None:
        env["FLEETWARD_DATA_DIR"] = str(home)
    data = stdin.encode("utf-8") if isinstance(stdin, str) else (stdin or b"")
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *args], input=data, capture_output=True,
                          timeout=120, check=False, env=env)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode("utf-8"),
                                       done.stderr.decode("utf-8"))
