"""A file upload read as it streams in: the CSRF token first, then the file, never held whole.

The one reader of the console's upload pages (merchants' activity files, transactions' exports).
A page's upload form is `multipart/form-data` with its hidden `csrf_token` input placed BEFORE
the file input (browsers send the parts in the form's order). The body is parsed as it arrives
(python-multipart's streaming parser): the first part must be the token, checked (as bytes) when
it ends, before a byte of the file is taken; a form that starts otherwise is refused unread. The
file's name is checked when its part's headers end, before anything is written (`sink_for`
refuses it); its bytes are counted against `max_bytes` (`UploadTooLarge`, a 413) and go to the
sink in a worker thread, once per chunk received (so they are on disk as they arrive). Other
small fields are read bounded and ignored. Nothing but the token and the file's name is ever
held in memory; whatever is refused, cut off or cancelled, the sink is discarded.

`upload_to_inbox` puts the two together for a dataset's inbox (`ingest.inbox.Landing`). The body
as a whole is bounded by the route's own `max_body_size` (`core.bodylimit`): a page declares it
as its file's limit plus `FORM_BYTES`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import anyio
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from backoffice.console.web import CsrfFailed, FieldProblem, field_errors, same_origin
from backoffice.core.errors import DomainError
from backoffice.ingest.inbox import FileRefused, InboxUnavailable, Landing
from backoffice.ingest.spec import Dataset

TOKEN_FIELD = "csrf_token"  # noqa: S105 - the name of the form field, not a secret
FILE_FIELD = "file"
MAX_HEADER_BYTES = 4096  # a part's headers, all together (a file name is at most 255 bytes)
MAX_FIELD_BYTES = 1024  # the token, or any other field (ignored)
MAX_PARTS = 8  # the token, the file, a few other fields (a named submit button)
FORM_BYTES = 64 * 1024  # what a body holds beside the file: the token, the framing
WRITE_BYTES = 1 << 20  # at most this much is buffered before it goes to the sink
_CUT_OFF = "The upload was cut off or garbled before its end; send it again."


class UploadTooLarge(DomainError):
    """The file is larger than the form takes."""

    status_code = 413
    code = "upload_too_large"


# What an upload page shows next to its file field (the rest: the app's error pages).
REFUSALS = (FieldProblem, FileRefused, UploadTooLarge, InboxUnavailable)


class Sink(Protocol):
    """Where the file's bytes go (blocking methods: run in a worker thread)."""

    def open(self) -> None: ...

    def write(self, data: bytes) -> None: ...

    def discard(self) -> None: ...


S = TypeVar("S", bound=Sink)


def size_text(size: int) -> str:
    """`536870912` -> `512 MiB`; `1000` -> `1,000 bytes`."""
    if size >= 1 << 20 and size % (1 << 20) == 0:
        return f"{size >> 20:,} MiB"
    return f"{size:,} bytes"


def base_name(sent: str) -> str:
    """The file's name as sent, without the folder some browsers send with it."""
    return sent.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    header_bytes: int = 0
    name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)


class _Receiver:
    """The state of one upload as its parts go by."""

    def __init__(
        self, csrf_token: str, file_field: str, max_bytes: int, sink_for: Callable[[str], Sink]
    ) -> None:
        self.csrf_token = csrf_token.encode()
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.sink_for = sink_for
        self.csrf_ok = False
        self.parts = 0
        self.sink: Sink | None = None
        self.size = 0
        self.buffer = bytearray()
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
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
        # The parser's callbacks are synchronous: they only note what went by; `handle` acts.
        return MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    async def handle(self) -> None:
        """Act on what the parser has seen so far, then hand what it buffered to the sink."""
        events, self.events = self.events, []
        for kind, data in events:
            await self._on(kind, data)
        await self._flush()

    async def _on(self, kind: str, data: bytes) -> None:
        part = self.part
        if kind == "part_begin":
            self.parts += 1
            if self.parts > MAX_PARTS:
                raise FieldProblem(self.file_field, "The form sent more than a file; reload it.")
            self.part = _Part()
            self.header_name = self.header_value = b""
        elif kind == "header_field":
            self._count_header(data)
            self.header_name += data
        elif kind == "header_value":
            self._count_header(data)
            self.header_value += data
        elif kind == "header_end":
            part.headers.append((self.header_name.strip().lower(), self.header_value))
            self.header_name = self.header_value = b""
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
            raise FieldProblem(self.file_field, "The form was sent with headers too long to read.")

    async def _start_part(self, part: _Part) -> None:
        for name, value in part.headers:
            if name == b"content-disposition":
                _, options = parse_options_header(value)
                part.name = options.get(b"name", b"").decode("latin-1")
                filename = options.get(b"filename")
                if filename is not None:
                    try:
                        part.filename = base_name(filename.decode("utf-8"))
                    except UnicodeDecodeError:
                        message = "The file's name is not readable text: rename it."
                        raise FieldProblem(self.file_field, message) from None
        if not self.csrf_ok:
            # The token comes first, alone: anything else is refused before it is read.
            if part.name != TOKEN_FIELD or part.filename is not None:
                raise CsrfFailed()
            return
        if part.filename is None:
            return  # another field: read bounded, ignored
        if part.name != self.file_field or self.sink is not None:
            raise FieldProblem(self.file_field, "Send one file at a time.")
        if not part.filename:
            return  # no file chosen: an empty part, refused at the end
        sink = self.sink_for(part.filename)  # refuses a bad name before any byte
        self.sink = sink
        await anyio.to_thread.run_sync(sink.open)

    async def _take(self, part: _Part, data: bytes) -> None:
        if self.sink is not None and part.filename and part.name == self.file_field:
            self.size += len(data)
            if self.size > self.max_bytes:
                raise UploadTooLarge(f"The file is larger than {size_text(self.max_bytes)}.")
            self.buffer += data
            if len(self.buffer) >= WRITE_BYTES:
                await self._flush()
            return
        part.value += data
        if len(part.value) > MAX_FIELD_BYTES:
            if not self.csrf_ok:
                raise CsrfFailed()  # no token is that long
            raise FieldProblem(self.file_field, "The form sent a field too long to read.")

    async def _end_part(self, part: _Part) -> None:
        if not self.csrf_ok:
            # As bytes: compare_digest refuses a str with non-ASCII characters (a 500).
            if not secrets.compare_digest(bytes(part.value), self.csrf_token):
                raise CsrfFailed()
            self.csrf_ok = True

    async def _flush(self) -> None:
        if self.sink is not None and self.buffer:
            block, self.buffer = bytes(self.buffer), bytearray()
            await anyio.to_thread.run_sync(self.sink.write, block)


async def receive_file(
    request: Request,
    csrf_token: str,
    *,
    sink_for: Callable[[str], S],
    max_bytes: int,
    file_field: str = FILE_FIELD,
) -> S:
    """The upload's file, written whole to the sink `sink_for(its name)` made (and opened).

    Raises:
        CsrfFailed: another site's form; the token missing, wrong, or not the first part.
        FieldProblem: no file chosen; more than one; not a multipart form; a malformed,
            cut-off or oversized form.
        UploadTooLarge: the file is over `max_bytes`.
        DomainError: whatever `sink_for` or the sink refuses (a name, a full disk).
    Whatever was refused, the sink is discarded: nothing of the file is left.
    """
    if not same_origin(request):
        raise CsrfFailed()
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        # Not the console's form (multipart, its token first): refused unread, nothing done.
        raise FieldProblem(file_field, "Choose a file, and send it with the upload form.")
    receiver = _Receiver(csrf_token, file_field, max_bytes, sink_for)
    parser = receiver.parser(boundary)
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except FormParserError:
                raise FieldProblem(file_field, _CUT_OFF) from None
            await receiver.handle()
            if receiver.ended:
                break
        if not receiver.ended:
            if receiver.parts == 0:
                raise CsrfFailed()  # nothing of the form came, its token neither
            raise FieldProblem(file_field, _CUT_OFF)
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


@dataclass(frozen=True)
class Landed:
    """A file that reached the inbox under its name, `size` bytes long."""

    name: str
    size: int
    path: Path


async def upload_to_inbox(
    request: Request,
    csrf_token: str,
    *,
    dataset: Dataset,
    inbox: Path,
    max_bytes: int,
    file_field: str = FILE_FIELD,
) -> Landed:
    """Receive the form's file into `inbox` as a file of `dataset`, checked and named.

    Raises what `receive_file` raises, and `FileRefused` (a name, an empty file, a header the
    import would refuse, a name already there) or `InboxUnavailable`: nothing is left then.
    """
    max_line: int = request.app.state.settings.ingest_max_line_bytes

    def landing(name: str) -> Landing:
        return Landing(dataset, inbox, name, max_line)

    received = await receive_file(
        request, csrf_token, sink_for=landing, max_bytes=max_bytes, file_field=file_field
    )
    # Not cancellable: a client gone meanwhile still leaves the file named or removed.
    path = await anyio.to_thread.run_sync(received.finish)
    return Landed(received.name, received.size, path)


def refusal_errors(problem: DomainError, file_field: str = FILE_FIELD) -> dict[str, str]:
    """An upload's refusal (one of `REFUSALS`) as the page's field errors: by the file field."""
    return field_errors(problem, file_field)
