"""The policy engine's agent side: evaluating checks and running remediation on this machine.

* :mod:`agent.policies.checks` - ``evaluate(check, host)`` for every check type of
  :mod:`schemas.checks`, per OS, through a small :class:`~agent.policies.checks.host.Host` facade;
* scripts (check scripts and remediation) run through :mod:`agent.scripting`;
* :mod:`agent.policies.bundles` - fetching and verifying the signed policy bundle;
* :mod:`agent.policies.engine` - when each policy runs (interval or cron on the agent's clock, and
  the triggers it names), enforce-mode remediation and re-check;
* :mod:`agent.policies.outbox` - results kept on disk until the controller has them.
"""
