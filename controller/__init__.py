"""The Fleetward controller: watches the fleet repository, plans, issues jobs, reports status.

Layers, outermost first (enforced by import-linter, see pyproject.toml):
``cli`` → ``serving``/``demo`` → ``api`` → ``reconciling``/``status`` →
``jobs``/``store``/``gitsource``/``loading`` → ``planning`` → ``desired``/``observed`` → ``schemas``.
"""
