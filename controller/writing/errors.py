"""Why a desired-state write through the API was refused, as part of the controller's error tree.

::

    controller.errors.PermanentError
    ├── Conflict
    │   ├── ResourceExists     create of a name that is already declared (409)
    │   └── NotEditable        the file cannot be changed without reformatting what the
    │                          caller did not ask to change (409; edit it in git instead)
    ├── AccessDenied
    │   └── OutsideScope       the write reaches outside the token's client (403)
    └── PushRefused            the remote refused the push for a reason retrying cannot fix
                               (branch protection, a hook): 502
    controller.errors.SourceUnavailable   fetch/push failed, or others kept pushing (503, retryable)
    controller.errors.RevisionInvalid     the edited tree does not validate (422, with every problem)
    controller.errors.NotFound            the resource to change is not declared (404)
"""

from __future__ import annotations

from controller.errors import AccessDenied, Conflict, PermanentError


class ResourceExists(Conflict):
    code = "already_exists"

    def __init__(self, message: str, *, where: str) -> None:
        super().__init__(message, hint=f"change it with PUT, or in git at {where}")
        self.where = where


class NotEditable(Conflict):
    code = "not_editable"


class OutsideScope(AccessDenied):
    code = "forbidden"


class PushRefused(PermanentError):
    code = "push_refused"
