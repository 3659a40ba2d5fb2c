"""Check evaluators: ``evaluate(check, host) -> CheckResult`` for every type in :mod:`schemas.checks`.

One module per check type, each implementing Linux, Windows and macOS where the type exists
there (the module docstrings name the command or file each OS is read from). The OS is reached
only through :class:`Host`, so the Windows and macOS paths are tested with recorded outputs.
"""

from agent.policies.checks.evaluating import EVALUATORS, evaluate
from agent.policies.checks.host import CommandFailed, CommandMissing, CommandOutput, Host, RegistryValue, ScriptSource
from agent.policies.checks.results import CheckResult, Status

__all__ = ["EVALUATORS", "CheckResult", "CommandFailed", "CommandMissing", "CommandOutput", "Host", "RegistryValue",
           "ScriptSource", "Status", "evaluate"]
