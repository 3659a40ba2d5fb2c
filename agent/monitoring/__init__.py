"""Agent monitors: watch CPU, memory, disk space, required processes and pending reboots, raise alerts.

Alerts go to the controller at once, not with inventory. The pieces:

* :mod:`agent.monitoring.probes`: what the OS says (psutil and a few files), behind one
  small object so tests hand in their own readings;
* :mod:`agent.monitoring.evaluating`: decides, from readings, settings and the remembered
  state, which alerts are raised or cleared (pure: no I/O, an explicit ``now``);
* :mod:`agent.monitoring.outbox`: raised and cleared alerts on disk until the controller
  says it stored them, so a controller outage or an agent restart loses nothing;
* :mod:`agent.monitoring.watching`: one monitoring pass per cycle, tying the three together.
"""
