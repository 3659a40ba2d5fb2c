"""``script`` checks: run a library Script delivered with the policy and read its verdict.

The Script comes from the host (the policy bundle, :attr:`Host.scripts`); its parameters are
checked against its declaration and passed as ``PARAM_<name>``; it runs through
:func:`agent.scripting.run_script`, which checks the SHA-256 first. The verdict follows the
library contract (:func:`agent.scripting.script_verdict`): ``expectExitCode`` (0) compliant,
0/1 otherwise non-compliant, anything else, a timeout or a signal an error. ``outputMatches``
must also match somewhere in stdout for compliance. Evidence is the script's last stdout line.

A Script not delivered, or not meant for this OS, is an error and not applicable respectively.
"""

from __future__ import annotations

import re

from agent.policies.checks.host import Host
from agent.policies.checks.results import Finding, error, judged, non_compliant, not_applicable
from agent.scripting import ScriptRefused, resolve_params, run_script, script_verdict
from schemas.checks import ScriptCheck


def evaluate_script(check: ScriptCheck, host: Host) -> Finding:
    source = host.scripts(check.script)
    if source is None:
        return error(f"script {check.script!r} was not delivered with the policy")
    if host.os not in source.os:
        return not_applicable(f"script {check.script!r} is for {', '.join(source.os)}, not {host.os}")
    try:
        params = resolve_params(source.parameters, check.params, script=source.name)
        result = run_script(source.content, shell=source.shell, sha256=source.sha256,
                            timeout=source.timeout_seconds, params=params, run_as=source.run_as,
                            work_root=host.script_root)
    except ScriptRefused as refused:
        return error(f"script {check.script!r} not run: {refused}")
    verdict = script_verdict(result, check.expect_exit_code)
    said = result.evidence or "(no output)"
    if verdict == "error":
        detail = result.stderr.strip().splitlines()[-1:] if result.stderr.strip() else []
        return error(f"script {check.script!r}: {result.describe()}; {said}"
                     + (f"; stderr: {detail[0][:200]}" if detail else ""))
    if verdict == "compliant" and check.output_matches is not None \
            and not re.search(check.output_matches, result.stdout, re.MULTILINE):
        return non_compliant(f"output does not match {check.output_matches!r}; {said}")
    return judged(verdict == "compliant", f"{result.describe()}: {said}")
