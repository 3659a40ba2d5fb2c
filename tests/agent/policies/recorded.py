"""A Host for another OS: commands answered from recorded outputs in tests/agent/fixtures/policies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from agent.policies.checks import CommandMissing, CommandOutput, Host, RegistryValue
from agent.policies.checks.host import POWERSHELL
from schemas.packages import OsName

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "policies"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def out(stdout: str = "", *, code: int = 0, stderr: str = "") -> CommandOutput:
    return CommandOutput(code, stdout, stderr)


def powershell(script: str) -> tuple[str, ...]:
    return (*POWERSHELL, script)


class Recorded:
    """Answers recorded argv tuples; a command not recorded is "not installed". Remembers the calls."""

    def __init__(self, answers: Mapping[tuple[str, ...], CommandOutput]) -> None:
        self.answers = dict(answers)
        self.calls: list[tuple[tuple[str, ...], dict[str, str]]] = []

    def __call__(self, argv: Sequence[str], env: Mapping[str, str]) -> CommandOutput:
        self.calls.append((tuple(argv), dict(env)))
        try:
            return self.answers[tuple(argv)]
        except KeyError:
            raise CommandMissing(argv[0]) from None


def recorded_host(os_name: OsName, answers: Mapping[tuple[str, ...], CommandOutput] | None = None, *,
                  registry: Mapping[tuple[str, str], RegistryValue] | None = None, **parts: object) -> Host:
    values = dict(registry or {})
    return Host(os=os_name, runner=Recorded(answers or {}),
                registry=lambda key, value: values.get((key, value)), clock=lambda: NOW,
                **parts)  # type: ignore[arg-type]
