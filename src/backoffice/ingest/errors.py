"""Domain errors of the run audit."""

from __future__ import annotations

from backoffice.core.errors import NotFound


class RunNotFound(NotFound):
    """No run of this dataset has that id."""

    code = "run_not_found"
    default_message = "Run not found"
