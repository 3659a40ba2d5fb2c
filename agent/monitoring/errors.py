"""Errors of the monitors' probes.

::

    AgentError (agent.errors)
    └── NotApplicable     this machine has no way to answer (no systemd, no reboot-pending signal):
                          the monitor stays quiet (no raise, no clear) and the log says so once

Any other exception a probe raises is a failed reading: that monitor skips the cycle with a warning.
"""

from __future__ import annotations

from agent.errors import AgentError


class NotApplicable(AgentError):
    """The question has no answer on this machine; not a fault, and never an alert."""
