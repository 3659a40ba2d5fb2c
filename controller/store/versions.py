"""Version ordering for inventory searches; the code lives in :mod:`schemas.versions`.

It moved there because the agent's package checks order versions the same way and the agent
may not import controller code. Kept as a module so the store's imports read as before.
"""

from schemas.versions import Version, VersionRange, compare_versions, parse_version, version_key

__all__ = ["Version", "VersionRange", "compare_versions", "parse_version", "version_key"]
