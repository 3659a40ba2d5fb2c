"""The asset tests' controller (clients acme and globex) serves the ticket API tests too."""

from tests.assets.conftest import fleet_repo, running  # noqa: F401 (fixtures used by name)
