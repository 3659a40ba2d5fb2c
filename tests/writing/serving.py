"""The real controller serving the writing fleet from a bare remote, with the write endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from controller.api import write_routes
from controller.serving import BackgroundController, Controller
from controller.settings import ControllerSettings
from tests.support.running import RunningController


@contextmanager
def serve(repo: str, data_dir: Path, db_url: str, **overrides: Any) -> Iterator[RunningController]:
    """Like ``tests.support.running.run_controller``, with the write router included until
    ``controller/api/app.py`` includes it itself."""
    values: dict[str, Any] = {"fetch_interval": 0.5, "status_interval": 0.5, "checkin_interval": 5,
                              "full_reconcile_interval": 5.0}
    values.update(overrides)
    settings = ControllerSettings(data_dir=data_dir, repo=repo, db_url=db_url, listen="127.0.0.1:0", **values)
    controller = Controller(settings)
    if not any(getattr(route, "path", "") == "/api/software/packages" for route in controller.app.routes):
        controller.app.include_router(write_routes.router)
    background = BackgroundController(controller)
    url = background.start()
    try:
        yield RunningController(controller, url)
    finally:
        background.stop()
