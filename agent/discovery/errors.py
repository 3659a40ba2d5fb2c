"""Errors of network discovery. Only one leaves a function on purpose, and never ``collect_network``.

::

    AgentError (agent.errors)
    └── PermanentError
        └── DiscoveryError
            └── OutsideAllowedRange   a probe was asked for an address no allowed CIDR contains

``OutsideAllowedRange`` is a programming error caught by the scanner's second check, so it is permanent:
retrying the same address fails the same way. The fix is on the controller side: add the range to the
client's ``networkDiscovery.activeScan.cidrs`` in git.
"""

from __future__ import annotations

from agent.errors import PermanentError


class DiscoveryError(PermanentError):
    pass


class OutsideAllowedRange(DiscoveryError):
    def __init__(self, address: str) -> None:
        super().__init__(f"refusing to probe {address}: no allowed scan range contains it",
                         hint="list the range in the client's networkDiscovery.activeScan.cidrs")
        self.address = address
