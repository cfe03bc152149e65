"""Login locks (admins): who is locked out after wrong passwords, until when, and clearing one.

The same locks `GET /api/v1/auth/locks` lists and `DELETE /api/v1/auth/locks` clears, through
the same functions (`core.auth.locks`).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from backoffice.console.access import Admin
from backoffice.console.accounts import admin_form, when
from backoffice.console.web import redirect, render
from backoffice.core.auth import locks
from backoffice.core.auth.locks import NoSuchLock
from backoffice.core.auth.throttle import LoginThrottle
from backoffice.core.errors import ValidationFailed
from backoffice.core.routing import ApiRouter

router = ApiRouter(include_in_schema=False)

LOCKS = "/console/accounts/locks"


def _throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


async def _page(
    request: Request, *, errors: Mapping[str, str] | None = None, status_code: int = 200
) -> Response:
    throttle = _throttle(request)
    return render(
        request,
        "accounts/locks.html",
        status_code=status_code,
        locks=await locks.current_locks(throttle),
        throttled=throttle.account_policy.enabled or throttle.address_policy.enabled,
        errors=errors or {},
        when=when,
    )


@router.get(LOCKS)
async def lock_list(request: Request, admin: Admin) -> Response:
    """The accounts and addresses locked now, the longest lock first."""
    return await _page(request)


@router.post(f"{LOCKS}/clear")
async def clear(request: Request, admin: Admin) -> Response:
    """Clear a lock and its count of wrong passwords: the key may sign in again at once."""
    form = await admin_form(request)
    key = form.get("key")
    key = key if isinstance(key, str) else ""
    try:
        await locks.clear_lock(_throttle(request), key)
    except NoSuchLock:
        return await _page(
            request,
            errors={"form": "That lock has already ended or was cleared: nothing to clear."},
            status_code=404,
        )
    except ValidationFailed as error:
        return await _page(request, errors={"form": error.message}, status_code=422)
    name = key.partition(":")[2]
    return redirect(LOCKS, notice=f"The lock on {name} is cleared: it may sign in again now.")
