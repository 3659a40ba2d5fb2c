"""The contract the controller and the agent share.

Pure data, no I/O: pydantic models for the fleet repository's resource kinds
(``resources`` and the kind modules), the agent wire protocol (``protocol``)
and the signed job payload (``jobs``). Neither side is imported from here, so
both can depend on it; the JSON Schema files in ``schemas/json`` are generated
from these models by ``fleetward schemas export``.
"""

API_VERSION = "fleetward/v1"
