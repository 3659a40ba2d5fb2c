"""Why a sealed value could not be opened (or a value could not be sealed).

::

    PermanentError                     (controller.errors)
    └── SealedValueError               code "sealed_value_invalid"
        ├── UnknownSealingKey          sealed to a key this controller does not hold;
        │                              .key_id and .available name the ids
        └── SealedValueCorrupt         not a sealed:v1 value, truncated, or changed after sealing

None of them is retryable: the same value fails the same way until it is sealed again
(or the missing key file is put back). No message ever quotes the value itself: a
plaintext secret pasted where a sealed one belongs must not reach logs or API answers.
Key-file and flag problems are :class:`controller.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.errors import PermanentError

RESEAL_HINT = "seal the value again with 'fleetward seal' and commit the new sealed string"


class SealedValueError(PermanentError):
    code = "sealed_value_invalid"

    def located(self, where: str) -> SealedValueError:
        """The same error with ``where`` (file, resource, field) in front of its message."""
        raise NotImplementedError


def _at(where: str, message: str) -> str:
    return f"{where}: {message}" if where else message


class UnknownSealingKey(SealedValueError):
    code = "unknown_sealing_key"

    def __init__(self, key_id: str, available: Sequence[str], *, where: str = "") -> None:
        have = ", ".join(available) if available else "none"
        super().__init__(
            _at(where, f"the value was sealed to key {key_id}, which this controller does not have "
                       f"(its sealing keys: {have})"),
            hint="it was sealed for another controller, or its key file was removed from <data dir>/keys/: "
                 "restore that key file, or " + RESEAL_HINT + " ('fleetward seal --server URL' seals to "
                 "this controller)")
        self.key_id = key_id
        self.available = list(available)

    def located(self, where: str) -> UnknownSealingKey:
        return UnknownSealingKey(self.key_id, self.available, where=where)


class SealedValueCorrupt(SealedValueError):
    code = "sealed_value_corrupt"

    def __init__(self, reason: str, *, where: str = "") -> None:
        super().__init__(_at(where, f"the sealed value {reason}"), hint=RESEAL_HINT)
        self.reason = reason

    def located(self, where: str) -> SealedValueCorrupt:
        return SealedValueCorrupt(self.reason, where=where)
