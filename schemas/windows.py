"""``MaintenanceWindow``: a named maintenance window that Clients and Deployments refer to by name.

The same cron, duration and time zone as an inline :class:`~schemas.rollouts.Window`, written once:
MSP-wide (outside ``clients/``) for every client, or in ``clients/<name>/`` for one client, whose own
windows come first when a name is looked up. ``Client.spec.deploymentWindow`` and
``Deployment.spec.window`` take either an inline window or such a name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from schemas.resources import DnsLabel, Resource, register_kind
from schemas.rollouts import Window

WindowName = Annotated[DnsLabel, Field(description="The name of a MaintenanceWindow (the client's own first, "
                                                   "then MSP-wide).")]


def _window_form(value: Any) -> str:
    return "name" if isinstance(value, str) else "inline"


WindowChoice = Annotated[
    Annotated[Window, Tag("inline")] | Annotated[WindowName, Tag("name")],
    Discriminator(_window_form),
]
"""A window written out, or a MaintenanceWindow's name; a mapping is only ever checked as a window
(its errors are the window's, not "expected a string")."""


@register_kind
class MaintenanceWindow(Resource):
    kind: Literal["MaintenanceWindow"]
    spec: Window
