"""The policy engine's agent side: evaluating checks and running remediation on this machine.

* :mod:`agent.policies.checks` - ``evaluate(check, host)`` for every check type of
  :mod:`schemas.checks`, per OS, through a small :class:`~agent.policies.checks.host.Host` facade;
* scripts (check scripts and remediation) run through :mod:`agent.scripting`.

The schedule/event loop and the policy bundles that bring checks and scripts to the agent come
later; this package is the library they will call.
"""
