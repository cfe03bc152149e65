"""The console's home: what needs the signed-in person now."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import Staff
from backoffice.console.web import render
from backoffice.core.routing import ApiRouter

router = ApiRouter(include_in_schema=False)


@router.get("/console/")
async def home(request: Request, principal: Staff) -> Response:
    """My pending approvals, my expenses in flight, the last import and ETL run."""
    return render(request, "home.html")
