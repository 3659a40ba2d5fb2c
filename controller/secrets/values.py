"""``Secret``: an opened sealed value that does not show itself.

``repr``, ``str``, f-strings, ``%``-formatting (and so logging) and pydantic's JSON
serialisation all give ``**********``; only :meth:`Secret.reveal` gives the plaintext,
so every place that uses a secret is one grep away. ``json.dumps`` and ``pickle``
refuse it outright rather than write it somewhere. A pydantic model may hold a
``Secret`` field: its ``model_dump_json()`` and JSON Schema show a masked, write-only
string.

Python cannot wipe a string from memory; what this type guarantees is that the
plaintext is never *shown* by accident, and it lives only as long as the object.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

MASK = "**********"


class Secret:
    """A plaintext secret; ``reveal()`` is the only way to read it."""

    __slots__ = ("_key_id", "_value")

    def __init__(self, value: str, *, key_id: str = "") -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret holds text")
        self._value = value
        self._key_id = key_id

    def reveal(self) -> str:
        """The plaintext. Call it where the secret is used, and keep the result no longer than that."""
        return self._value

    @property
    def key_id(self) -> str:
        """The sealing key the value was opened with ('' when it was not opened from a seal)."""
        return self._key_id

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode("utf-8"), other._value.encode("utf-8"))

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a Secret is never pickled: keep it in memory, and keep the sealed string instead")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        # Only an already-opened Secret validates: a plain string here would be a plaintext secret
        # taken from input, which is exactly what SealedValue fields exist to prevent.
        return core_schema.is_instance_schema(
            cls, serialization=core_schema.plain_serializer_function_ser_schema(
                _masked, when_used="json"))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
                                     ) -> JsonSchemaValue:
        return {"type": "string", "format": "password", "writeOnly": True,
                "description": "an opened secret; always shown as **********"}


def _masked(_value: Secret) -> str:
    return MASK
