"""Agent monitors: watch CPU, memory, disk space, required processes and services, pending reboots.

Alerts go to the controller at once, not with inventory. The pieces:

* :mod:`agent.monitoring.probes`: what the OS says (psutil and a few files), behind one
  small object so tests hand in their own readings; services and pending reboots differ per
  OS (:mod:`agent.monitoring.services`, :mod:`agent.monitoring.reboots`) and may be
  :class:`~agent.monitoring.errors.NotApplicable` on a machine that cannot answer;
* :mod:`agent.monitoring.evaluating`: decides, from readings, settings and the remembered
  state, which alerts are raised or cleared (pure: no I/O, an explicit ``now``);
* :mod:`agent.monitoring.outbox`: raised and cleared alerts on disk until the controller
  says it stored them, so a controller outage or an agent restart loses nothing;
* :mod:`agent.monitoring.watching`: one monitoring pass per cycle, tying the three together.
"""
