"""Test support shared across test folders, imported as ``tests.support.*``.

pytest puts the repository root on sys.path (``pythonpath`` in pyproject.toml).
"""
