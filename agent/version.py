"""The agent's version, from the installed distribution's metadata.

Kept in its own module (not only in ``agent/__init__.py``) so that code importing
it works however the package was put on the path, including an editable install
that registered ``agent`` before it had an ``__init__.py``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fleetward")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
