"""Comparing the version strings inventory reports: dpkg's ordering, tolerant of everything else.

Shared by the controller (inventory searches, upgrade/downgrade history) and the agent (package
checks), so it lives here, the one package both may import; it is pure and does no I/O.

Installed software comes with versions from dpkg (``1:2.36-9+deb12u4``), rpm
(``5.14.0-362.el9``), the Windows registry (``10.0.19041.1``), app bundles (``121.0b3``)
and more; a fleet-wide search such as "every device with OpenSSL >= 3.0.11" has to order
them all. This module uses Debian's algorithm (Debian Policy 5.6.12, ``dpkg
--compare-versions``), which is a total order on any string and already agrees with rpm
on the usual cases:

* an optional numeric epoch (``2:1.0`` is newer than ``1:9.9``);
* the upstream part and an optional revision after the last ``-``, compared in turn;
* within each, alternating runs of non-digits and digits: digit runs compare as numbers
  (``1.10`` > ``1.9``, ``1.01`` == ``1.1``), non-digit runs character by character with
  letters before other characters and ``~`` before everything, even the end of the
  string (``1.0~rc1`` < ``1.0`` < ``1.0a`` < ``1.0+b1``).

Two tolerances beyond dpkg, for strings dpkg would not produce: surrounding whitespace
is ignored, and a ``v`` before a digit is dropped (``v1.2`` == ``1.2``). Note that a
semver pre-release written with ``-`` (``1.2.3-rc1``) counts as a revision and so sorts
*after* ``1.2.3``, exactly as dpkg orders it; packages write pre-releases as ``1.2.3~rc1``.
"""

from __future__ import annotations

from functools import cmp_to_key
from typing import NamedTuple

_DIGITS = frozenset("0123456789")
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class Version(NamedTuple):
    epoch: int
    upstream: str
    revision: str


def parse_version(text: str) -> Version:
    """Split ``[epoch:]upstream[-revision]``; an epoch that is not a number stays in upstream."""
    value = text.strip()
    if value[:1] in ("v", "V") and value[1:2] in _DIGITS:
        value = value[1:]
    epoch = 0
    head, colon, rest = value.partition(":")
    if colon and head.isascii() and head.isdigit():
        epoch, value = int(head), rest
    upstream, dash, revision = value.rpartition("-")
    if not dash:
        upstream, revision = value, ""
    return Version(epoch, upstream, revision)


def _order(char: str) -> int:
    if char in _LETTERS:
        return ord(char)
    if char == "~":
        return -1
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's ``verrevcmp``: negative, zero or positive."""
    i = j = 0
    len_a, len_b = len(a), len(b)
    while i < len_a or j < len_b:
        while (i < len_a and a[i] not in _DIGITS) or (j < len_b and b[j] not in _DIGITS):
            order_a = _order(a[i]) if i < len_a and a[i] not in _DIGITS else 0
            order_b = _order(b[j]) if j < len_b and b[j] not in _DIGITS else 0
            if order_a != order_b:
                return order_a - order_b
            i += 1
            j += 1
        while i < len_a and a[i] == "0":
            i += 1
        while j < len_b and b[j] == "0":
            j += 1
        first_difference = 0
        while i < len_a and a[i] in _DIGITS and j < len_b and b[j] in _DIGITS:
            if not first_difference:
                first_difference = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len_a and a[i] in _DIGITS:
            return 1
        if j < len_b and b[j] in _DIGITS:
            return -1
        if first_difference:
            return first_difference
    return 0


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b``."""
    left, right = parse_version(a), parse_version(b)
    if left.epoch != right.epoch:
        return -1 if left.epoch < right.epoch else 1
    result = _compare_part(left.upstream, right.upstream) or _compare_part(left.revision, right.revision)
    return (result > 0) - (result < 0)


version_key = cmp_to_key(compare_versions)
"""For ``sorted(versions, key=version_key)``."""


class VersionRange:
    """``minimum <= version <= maximum`` (either bound optional), remembering each string's answer.

    A fleet holds few distinct versions of one product, so a search over 10,000 devices
    compares a handful of strings and looks the rest up.
    """

    def __init__(self, minimum: str | None = None, maximum: str | None = None) -> None:
        self.minimum = minimum or None
        self.maximum = maximum or None
        self._seen: dict[str, bool] = {}

    def __contains__(self, version: str) -> bool:
        known = self._seen.get(version)
        if known is None:
            known = ((self.minimum is None or compare_versions(version, self.minimum) >= 0)
                     and (self.maximum is None or compare_versions(version, self.maximum) <= 0))
            if len(self._seen) < 100_000:
                self._seen[version] = known
        return known

    @property
    def unbounded(self) -> bool:
        return self.minimum is None and self.maximum is None
