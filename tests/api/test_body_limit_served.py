"""Three concurrent 200 MB bodies to the anonymous signup leave a real server's memory as it was.

`backoffice serve` runs in a subprocess, so its resident memory is its own (psutil); the
bodies are streamed from generators, so the test holds none of them in memory either.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from backoffice.core.embedded import free_port

MB = 1_000_000
BODY = 200 * MB
SLACK = 50 * MB
SIGNUP = "/api/v1/savings/signup"
PREFIX = b'{"email": "big@example.com", "password": "a long enough one", "full_name": "Big"'


def body(total: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """A JSON signup padded with spaces to `total` bytes, made as it is sent."""
    yield PREFIX
    left = total - len(PREFIX) - 1
    pad = b" " * chunk
    while left > 0:
        yield pad[: min(chunk, left)]
        left -= chunk
    yield b"}"


@pytest.fixture
def served(database_url, services_env, tmp_path: Path) -> Iterator[tuple[str, psutil.Process]]:
    """`backoffice serve` in a subprocess: its base URL and its process."""
    port = free_port()
    env = {
        **os.environ,
        **services_env,
        "DATABASE_URL": database_url,
        "BACKOFFICE_HOME": str(tmp_path / "home"),
        "DATA_DIR": str(tmp_path / "none"),
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "backoffice", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not get ready"
            try:
                if httpx.get(f"{base}/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield base, psutil.Process(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _post(url: str, *, declared: bool) -> int:
    headers = {"Content-Type": "application/json"}
    if declared:
        headers["Content-Length"] = str(BODY)
    return httpx.post(url, content=body(BODY), headers=headers, timeout=300).status_code


class PeakRss:
    """The highest resident memory of a process while the block runs, sampled."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


def test_three_200_mb_bodies_leave_the_servers_memory_as_it_was(served):
    base, process = served
    warm = httpx.post(
        f"{base}{SIGNUP}",
        json={"email": "warm@example.com", "password": "a long enough one", "full_name": "W"},
        timeout=30,
    )
    assert warm.status_code == 201, warm.text
    before = process.memory_info().rss
    with PeakRss(process) as rss, ThreadPoolExecutor(3) as pool:
        statuses = list(pool.map(lambda _: _post(f"{base}{SIGNUP}", declared=True), range(3)))
    after = process.memory_info().rss
    assert statuses == [413, 413, 413]
    grown = f"RSS {before / MB:.0f} MB -> peak {rss.peak / MB:.0f} MB, after {after / MB:.0f} MB"
    assert after - before < SLACK, grown
    assert rss.peak - before < SLACK, grown


def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(served):
    base, process = served
    before = process.memory_info().rss
    with PeakRss(process) as rss:
        status = _post(f"{base}{SIGNUP}", declared=False)
    assert status == 413
    assert rss.peak - before < SLACK, f"RSS {before / MB:.0f} MB -> peak {rss.peak / MB:.0f} MB"
