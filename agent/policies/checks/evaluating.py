"""``evaluate(check, host)``: one check, one :class:`CheckResult`, never an exception.

The type's :data:`schemas.checks.CHECK_OS` decides first: on any other OS the check is *not
applicable*, never compliant. Then the type's evaluator runs. How failures map:

* a tool the evaluator needs is not installed (:class:`CommandMissing`) - error, naming the tool;
  evaluators for which a missing tool means "this machine has no such thing" catch it themselves
  and say not applicable (screen lock without GNOME) or ask the next tool (firewall);
* a tool that fails, hangs or prints something unparseable (:class:`CommandFailed`), a file that
  cannot be read (``OSError``), a script that is refused - error, saying which and why;
* a bug in an evaluator - error ("internal agent error"), logged with its traceback; one broken
  check must not stop a policy's other checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from agent.policies.checks.admins import evaluate_local_admins
from agent.policies.checks.disks import evaluate_disk_free
from agent.policies.checks.encryption import evaluate_disk_encryption
from agent.policies.checks.files import evaluate_file
from agent.policies.checks.firewall import evaluate_firewall
from agent.policies.checks.host import CommandFailed, CommandMissing, Host
from agent.policies.checks.packages import evaluate_package
from agent.policies.checks.processes import evaluate_process
from agent.policies.checks.registry import evaluate_registry
from agent.policies.checks.results import CheckResult, Finding, error, not_applicable
from agent.policies.checks.screenlock import evaluate_screen_lock
from agent.policies.checks.scripts import evaluate_script
from agent.policies.checks.services import evaluate_service
from agent.policies.checks.updates import evaluate_os_update_age
from schemas.checks import CHECK_OS, Check

log = logging.getLogger(__name__)

EVALUATORS: dict[str, Callable[[Any, Host], Finding]] = {
    "script": evaluate_script,
    "service": evaluate_service,
    "process": evaluate_process,
    "file": evaluate_file,
    "registry": evaluate_registry,
    "package": evaluate_package,
    "diskFree": evaluate_disk_free,
    "firewall": evaluate_firewall,
    "osUpdateAge": evaluate_os_update_age,
    "localAdmins": evaluate_local_admins,
    "screenLock": evaluate_screen_lock,
    "diskEncryption": evaluate_disk_encryption,
}


def evaluate(check: Check, host: Host) -> CheckResult:
    """Evaluate ``check`` on ``host``; every outcome, failures included, is a result."""
    kind = check.type
    evaluator = EVALUATORS.get(kind)
    if evaluator is None or host.os not in CHECK_OS.get(kind, frozenset()):
        where = ", ".join(sorted(CHECK_OS.get(kind, ()))) or "no OS this agent knows"
        finding = not_applicable(f"{kind} checks apply to {where}, not {host.os}")
    else:
        finding = _run(evaluator, check, host)
    return CheckResult(name=check.name, type=kind, status=finding.status, evidence=finding.evidence)


def _run(evaluator: Callable[[Any, Host], Finding], check: Check, host: Host) -> Finding:
    try:
        return evaluator(check, host)
    except CommandMissing as missing:
        return error(f"{missing.tool} is not installed; the {check.type} check needs it")
    except CommandFailed as failed:
        return error(str(failed))
    except OSError as exc:
        return error(f"{exc.filename or 'the OS'}: {exc.strerror or exc}")
    except Exception as exc:  # a bug must cost one check, not the policy
        log.exception("check %s (%s): unexpected error", check.name, check.type)
        return error(f"internal agent error: {type(exc).__name__}")
