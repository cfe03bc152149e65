"""`backoffice serve` under uvicorn: the port is bound first, and "serving" is said once it is.

The port is bound before anything else starts (databases, NATS, the app's lifespan), so a
port in use is one line and a non-zero exit at once instead of a log line after start-up.
With one worker the line comes from the server's start-up, after the app's lifespan has run
and the socket listens; with several, once one of them answers `GET /health` (the parent
listens at once, but a worker takes seconds to start, and until then a connection waits).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

from backoffice.core.config import StartupRefused

# uvicorn's exit status when the app or its server did not start.
STARTUP_FAILURE = 3


class PortUnavailable(StartupRefused):
    """The address to serve on cannot be bound (in use, or not an address of this machine)."""


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port), inheritable by uvicorn's worker processes.

    Raises:
        PortUnavailable: the port is in use or the address cannot be bound, in one line.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise PortUnavailable(
            f"cannot serve on {host}:{port}: {reason.lower()}; stop what uses it, or pick"
            " another with --port (or PORT)"
        ) from None
    sock.set_inheritable(True)
    return sock


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls `announce` once it listens and its app has started."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does (lifespan, then listening), then announce."""
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._announce()


def _announce_once_answering(sock: socket.socket, announce: Callable[[], None]) -> None:
    """Call `announce` once a worker behind `sock` answers `GET /health` (a daemon thread)."""
    host, port = sock.getsockname()[:2]
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - a probe
    url = f"http://[{host}]:{port}/health" if ":" in host else f"http://{host}:{port}/health"

    def probe() -> None:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own
                    if response.status == 200:
                        announce()
                        return
            except OSError:
                pass
            time.sleep(0.2)

    threading.Thread(target=probe, name="announce", daemon=True).start()


def run(sock: socket.socket, announce: Callable[[], None], *, workers: int, **options: Any) -> None:
    """Serve on the bound `sock` with uvicorn (`options` go to `uvicorn.Config`).

    Exits with uvicorn's start-up failure status when the app did not start.
    """
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(host=host, port=port, workers=workers, **options)
    with contextlib.suppress(KeyboardInterrupt):
        if workers > 1:
            sock.listen(config.backlog)
            _announce_once_answering(sock, announce)
            Multiprocess(config, sockets=[sock]).run()
            return
        server = AnnouncingServer(config, announce)
        server.run(sockets=[sock])
        if not server.started:
            sys.exit(STARTUP_FAILURE)
