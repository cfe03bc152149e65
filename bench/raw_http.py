"""A keep-alive HTTP/1.1 connection for load generators: a fraction of httpx's CPU per request.

On a two-core machine the load generator's CPU is taken from the servers it measures: httpx
spends about 1.6 ms a request (bench/savings_credits.py). This sends a request as one write and
reads the status line, the headers and a `Content-Length` body; nothing else of HTTP.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class RawConnection:
    """One connection to `base_url`'s host, reused for every request (no pipelining)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self._reader = reader
        self._writer = writer
        self._host = host

    @classmethod
    async def open(cls, base_url: str) -> RawConnection:
        """Connect to the host and port of `base_url`."""
        parts = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        return cls(reader, writer, parts.netloc)

    async def post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """POST a JSON body; return the status, the headers (lower-cased names) and the body."""
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {self._host}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status = int((await self._reader.readline()).split(b" ", 2)[1])
        received: dict[str, str] = {}
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            received[name.strip().lower()] = value.strip()
        content = await self._reader.readexactly(int(received.get("content-length", "0")))
        return status, received, content

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        await self._writer.wait_closed()
