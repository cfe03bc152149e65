"""A file upload read as it streams in: the CSRF token first, then the file, never held whole.

A page's upload form is `multipart/form-data` with its hidden `csrf_token` input placed BEFORE
the file input (browsers send the parts in the form's order). The body is parsed here as it
arrives (python-multipart's streaming parser): the token is checked when its part ends, before
a byte of the file is taken; a file part before it is refused as a forged form. The file's
bytes go to a sink (`ingest.inbox.Landing`: a temporary file in the inbox), in blocks of up to
1 MiB, written in a worker thread. Other fields are read bounded and ignored. Nothing but the
token and the file's name is ever held in memory.

The body as a whole is bounded by the route's own `max_body_size` (`core.bodylimit`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from backoffice.console.web import CsrfFailed, FieldProblem, same_origin
from backoffice.core.errors import ValidationFailed

MAX_HEADER_BYTES = 8192  # a part's headers, all together
MAX_FIELD_BYTES = 1024  # the token, or any other field (ignored)
WRITE_BYTES = 1 << 20  # a block written to the sink at once


class Sink(Protocol):
    """Where the file's bytes go (blocking methods: run in a worker thread)."""

    def open(self) -> None: ...

    def write(self, data: bytes) -> None: ...

    def discard(self) -> None: ...


S = TypeVar("S", bound=Sink)


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    header_bytes: int = 0
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)


class _Receiver:
    """The state of one upload as its parts go by."""

    def __init__(self, csrf_token: str, file_field: str, sink_for: Callable[[str], Sink]) -> None:
        self.csrf_token = csrf_token
        self.file_field = file_field
        self.sink_for = sink_for
        self.csrf_ok = False
        self.sink: Sink | None = None
        self.buffer = bytearray()
        self.part = _Part()
        self.field_name = b""
        self.field_value = b""
        self.ended = False
        self.events: list[tuple[str, bytes]] = []

    def parser(self, boundary: bytes) -> MultipartParser:
        def data(kind: str) -> Callable[[bytes, int, int], None]:
            return lambda chunk, start, end: self.events.append((kind, chunk[start:end]))

        def mark(kind: str) -> Callable[[], None]:
            return lambda: self.events.append((kind, b""))

        callbacks = {
            "on_part_begin": mark("part_begin"),
            "on_header_field": data("header_field"),
            "on_header_value": data("header_value"),
            "on_header_end": mark("header_end"),
            "on_headers_finished": mark("headers_finished"),
            "on_part_data": data("part_data"),
            "on_part_end": mark("part_end"),
            "on_end": mark("end"),
        }
        return MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    async def handle(self) -> None:
        """Act on what the parser has seen so far."""
        events, self.events = self.events, []
        for kind, data in events:
            await self._on(kind, data)

    async def _on(self, kind: str, data: bytes) -> None:
        part = self.part
        if kind == "part_begin":
            self.part = _Part()
            self.field_name = self.field_value = b""
        elif kind == "header_field":
            self._count_header(data)
            self.field_name += data
        elif kind == "header_value":
            self._count_header(data)
            self.field_value += data
        elif kind == "header_end":
            part.headers.append((self.field_name.lower(), self.field_value))
            self.field_name = self.field_value = b""
        elif kind == "headers_finished":
            await self._start_part(part)
        elif kind == "part_data":
            await self._take(part, data)
        elif kind == "part_end":
            await self._end_part(part)
        elif kind == "end":
            self.ended = True

    def _count_header(self, data: bytes) -> None:
        self.part.header_bytes += len(data)
        if self.part.header_bytes > MAX_HEADER_BYTES:
            raise ValidationFailed("The form was sent with headers too long to read.")

    async def _start_part(self, part: _Part) -> None:
        for name, value in part.headers:
            if name == b"content-disposition":
                _, options = parse_options_header(value)
                part.name = options.get(b"name", b"").decode("utf-8", "replace")
                filename = options.get(b"filename")
                if filename is not None:
                    # Some browsers send a path: only its last part is the file's name.
                    text = filename.decode("utf-8", "replace")
                    part.filename = text.replace("\\", "/").rsplit("/", 1)[-1]
        if part.name == "csrf_token" or not self.csrf_ok:
            if part.name != "csrf_token" or part.filename is not None:
                raise CsrfFailed()  # the token comes first, before any file
            return
        if part.name == self.file_field and part.filename:
            if self.sink is not None:
                raise FieldProblem(self.file_field, "Send one file at a time.")
            sink = self.sink_for(part.filename)  # refuses a bad name before any byte
            await anyio.to_thread.run_sync(sink.open)
            self.sink = sink

    async def _take(self, part: _Part, data: bytes) -> None:
        if self.sink is not None and part.name == self.file_field and part.filename:
            self.buffer += data
            if len(self.buffer) >= WRITE_BYTES:
                await self._flush()
            return
        part.value += data
        if len(part.value) > MAX_FIELD_BYTES:
            raise ValidationFailed(f"The form's field {part.name[:50]!r} is too long.")

    async def _end_part(self, part: _Part) -> None:
        if part.name == "csrf_token" and not self.csrf_ok:
            # As bytes: compare_digest refuses a str with non-ASCII characters (a 500).
            if not secrets.compare_digest(bytes(part.value), self.csrf_token.encode()):
                raise CsrfFailed()
            self.csrf_ok = True
        elif self.sink is not None and part.name == self.file_field:
            await self._flush()

    async def _flush(self) -> None:
        if self.sink is not None and self.buffer:
            block, self.buffer = bytes(self.buffer), bytearray()
            await anyio.to_thread.run_sync(self.sink.write, block)


async def receive_file(
    request: Request, csrf_token: str, file_field: str, sink_for: Callable[[str], S]
) -> S:
    """The upload's file, written whole to the sink `sink_for(its name)` made (and opened).

    Raises:
        CsrfFailed: no token of this session, or the token after the file.
        FieldProblem: no file chosen; more than one.
        ValidationFailed: not a multipart form, or a malformed or cut-off one.
        DomainError: whatever `sink_for` or the sink refuses (a name, a size).
    Whatever was refused, the sink is discarded: nothing of the file is left.
    """
    if not same_origin(request):
        raise CsrfFailed()
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ValidationFailed("Send the file with the page's form (multipart/form-data).")
    receiver = _Receiver(csrf_token, file_field, sink_for)
    parser = receiver.parser(boundary)
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise ValidationFailed("The form arrived malformed; send it again.") from exc
            await receiver.handle()
            if receiver.ended:
                break
        if not receiver.ended:
            raise ValidationFailed("The upload was cut off before its end; send it again.")
        if not receiver.csrf_ok:
            raise CsrfFailed()
        if receiver.sink is None:
            raise FieldProblem(file_field, "Choose a file to upload.")
    except BaseException:
        # Here, not in a thread: a cancelled request (the client went away) could not start one.
        if receiver.sink is not None:
            receiver.sink.discard()  # a close and an unlink
        raise
    sink: S = receiver.sink  # type: ignore[assignment]
    return sink
