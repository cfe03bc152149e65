"""A server's memory under three concurrent 200 MB request bodies, beside a no-op baseline.

Runs `backoffice serve` (every context in one process, as `make run` does) in a subprocess and
posts three bodies at once to the anonymous `POST /api/v1/savings/signup`, streamed from
generators (the bench holds none of them), then reads the server's resident memory (psutil):
before, at its peak (sampled every 20 ms) and after. Each case runs on a fresh server:

- baseline (no-op): three small bodies the route refuses at validation (`{}`: a 422, no
  password hashed, nothing written);
- declared: three 200 MB bodies with a `Content-Length` (refused before they are read);
- chunked: three 200 MB bodies without one (cut off at the limit);
- unlimited: the declared case with `MAX_BODY_BYTES` raised to 2 GiB, i.e. as before the limit.

    python bench/body_limit.py [--size-mb 200] [--port 18201] [--skip-unlimited]

PostgreSQL is `DATABASE_URL`'s server when set, else an embedded one under a temporary home;
NATS an embedded one (bench/savings_stack.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil

from backoffice.core import migrations
from backoffice.core.embedded import drop_database, ensure_database, free_port, with_database
from savings_stack import nats, postgres, scratch_databases

MB = 1_000_000
SIGNUP = "/api/v1/savings/signup"


def signup(email: str) -> bytes:
    """A valid signup body (no closing brace: `body` adds the padding and the brace)."""
    return f'{{"email": "{email}", "password": "a long enough one", "full_name": "B"'.encode()


def body(total: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """A signup padded with spaces to `total` bytes: valid JSON, made as it is sent."""
    head = signup(f"b-{uuid.uuid4().hex[:12]}@example.com")
    yield head
    left = total - len(head) - 1
    pad = b" " * chunk
    while left > 0:
        yield pad[: min(chunk, left)]
        left -= chunk
    yield b"}"


@contextmanager
def server(env: Mapping[str, str], port: int, log: Path) -> Iterator[tuple[str, psutil.Process]]:
    """`backoffice serve` on `port`, ready; yields its base URL and process."""
    binary = shutil.which("backoffice", path=str(Path(sys.executable).parent)) or "backoffice"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [binary, "serve", "--port", str(port)],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"the server exited; see {log}"
            assert time.monotonic() < deadline, f"the server was not ready in 60 s; see {log}"
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield base, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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


def post(url: str, case: str, size: int) -> int:
    """One request of `case`; its status."""
    headers = {"Content-Type": "application/json"}
    if case == "warm-up":
        content: bytes | Iterator[bytes] = signup(f"w-{uuid.uuid4().hex[:12]}@example.com") + b"}"
    elif case == "baseline":
        content = b"{}"
    else:
        content = body(size)
        if case != "chunked":
            headers["Content-Length"] = str(size)
    return httpx.post(url, content=content, headers=headers, timeout=600).status_code


def run_case(case: str, env: Mapping[str, str], port: int, home: Path, size: int) -> str:
    """Start a server, warm it with one real signup, send three requests of `case` at once."""
    with server(env, port, home / f"{case}.log") as (base, process):
        assert post(f"{base}{SIGNUP}", "warm-up", 0) == 201
        before = process.memory_info().rss
        started = time.perf_counter()
        with PeakRss(process) as rss, ThreadPoolExecutor(3) as pool:
            statuses = list(pool.map(lambda _: post(f"{base}{SIGNUP}", case, size), range(3)))
        seconds = time.perf_counter() - started
        time.sleep(1)  # let the server settle before the last reading
        after = process.memory_info().rss
    return (
        f"| {case} | {', '.join(map(str, statuses))} | {before / MB:.0f} | {rss.peak / MB:.0f}"
        f" | {after / MB:.0f} | {(after - before) / MB:+.0f} | {seconds:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200, help="size of each body, MB")
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: free)")
    parser.add_argument("--skip-unlimited", action="store_true", help="skip the 2 GiB case")
    args = parser.parse_args()
    size = args.size_mb * MB
    port = args.port or free_port()
    with postgres(None, "bench-body-limit-") as (admin, home), nats(home) as nats_url:
        main_db = f"bench_body_{uuid.uuid4().hex[:8]}"
        ensure_database(admin, main_db, recreate=True)
        try:
            main_url = with_database(admin, main_db)
            migrations.upgrade(main_url)
            with scratch_databases(admin, main_db) as urls:
                env = {
                    "BACKOFFICE_HOME": str(home),
                    "BACKOFFICE_ENV": "development",
                    "DATABASE_URL": main_url,
                    "NATS_URL": nats_url,
                    "SAVINGS_USERS_DATABASE_URL": urls["savings-users"],
                    "SAVINGS_ACCOUNTING_DATABASE_URL": urls["savings-accounting"],
                    "DATA_DIR": str(home / "no-data"),
                    "RATE_LIMIT_PER_MINUTE": "0",
                    "LOG_LEVEL": "WARNING",
                }
                print(f"3 concurrent bodies of {args.size_mb} MB to POST {SIGNUP}, RSS in MB")
                print("| case | statuses | before | peak | after | after - before | seconds |")
                print("|---|---|---|---|---|---|---|")
                for case in ("baseline", "declared", "chunked"):
                    print(run_case(case, env, port, home, size), flush=True)
                if not args.skip_unlimited:
                    unlimited = {**env, "MAX_BODY_BYTES": str(2**31)}
                    print(run_case("unlimited", unlimited, port, home, size), flush=True)
        finally:
            drop_database(admin, main_db)


if __name__ == "__main__":
    main()
