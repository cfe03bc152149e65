"""A file posted from a console form, streamed: CSRF checked first, never whole in memory.

The form is `multipart/form-data` with its hidden `csrf_token` input placed before the file
input (browsers send a form's fields in document order). The body is parsed as it arrives
(python-multipart's streaming parser): the token is checked as soon as its part ends, before
a byte of the file is written anywhere; a form whose first field is not the token is refused
unread. The file's bytes then go, chunk by chunk, to a temporary file in the target folder whose
name no import globs for (`.upload-*.part`); the caller checks it and renames it into place.
Whatever goes wrong, the temporary file is removed.

The route's own `max_body_size` bounds the whole body (`core.bodylimit`); `max_bytes` bounds
the file itself with a plain message.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from backoffice.console.web import CsrfFailed, FieldProblem, same_origin
from backoffice.core.errors import DomainError

TOKEN_FIELD = "csrf_token"  # noqa: S105 - the name of the form field, not a secret
MAX_TOKEN_BYTES = 512
MAX_HEADER_BYTES = 2048  # a part's header line (its file name included)
TEMPORARY_PREFIX = ".upload-"
TEMPORARY_SUFFIX = ".part"


class UploadTooLarge(DomainError):
    """The file is larger than the form takes."""

    status_code = 413
    code = "upload_too_large"


@dataclass(frozen=True)
class Received:
    """A file received whole: its name as sent, where it is (temporary), its size in bytes."""

    filename: str
    path: Path
    size: int


class _FormStream:
    """The state of one form's parse: which part, its headers, the token, the file."""

    def __init__(
        self,
        csrf_token: str,
        directory: Path,
        field: str,
        max_bytes: int,
        check_name: Callable[[str], str | None],
    ) -> None:
        self.csrf_token = csrf_token
        self.directory = directory
        self.field = field
        self.max_bytes = max_bytes
        self.check_name = check_name
        self.part = 0
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.disposition = b""
        self.token = bytearray()
        self.token_ok = False
        self.filename = ""
        self.file: BinaryIO | None = None
        self.path: Path | None = None
        self.size = 0
        self.file_done = False

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value_data,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.part += 1
        self.disposition = b""
        if self.part > 2:
            raise FieldProblem("form", "The form sent more than a file; reload it and try again.")

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def header_value_data(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        if bytes(self.header_name).strip().lower() == b"content-disposition":
            self.disposition = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def headers_finished(self) -> None:
        kind, options = parse_options_header(self.disposition)
        name = options.get(b"name", b"").decode("latin-1")
        if self.part == 1:
            # The token comes first, alone: anything else is refused before it is read.
            if kind != b"form-data" or name != TOKEN_FIELD or b"filename" in options:
                raise CsrfFailed()
            return
        if not self.token_ok:  # pragma: no cover - the first part's end checked it
            raise CsrfFailed()
        if name != self.field or b"filename" not in options:
            raise FieldProblem(self.field, "Choose a file to upload.")
        try:
            filename = options[b"filename"].decode("utf-8")
        except UnicodeDecodeError:
            raise FieldProblem(self.field, "The file's name is not readable text.") from None
        if not filename:
            raise FieldProblem(self.field, "Choose a file to upload.")
        problem = self.check_name(filename)
        if problem is not None:
            raise FieldProblem(self.field, problem)
        self.filename = filename
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, name_on_disk = tempfile.mkstemp(
            dir=self.directory, prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX
        )
        self.path = Path(name_on_disk)
        self.file = os.fdopen(handle, "wb")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part == 1:
            self.token += data[start:end]
            if len(self.token) > MAX_TOKEN_BYTES:
                raise CsrfFailed()
            return
        if self.file is None:  # pragma: no cover - headers_finished opened it
            raise FieldProblem(self.field, "Choose a file to upload.")
        self.size += end - start
        if self.size > self.max_bytes:
            raise UploadTooLarge(
                f"The file is larger than {self.max_bytes:,} bytes: split it, or load it"
                " with `backoffice transactions etl` on the server."
            )
        self.file.write(data[start:end])

    def part_end(self) -> None:
        if self.part == 1:
            sent = self.token.decode("latin-1")
            if not secrets.compare_digest(sent, self.csrf_token):
                raise CsrfFailed()
            self.token_ok = True
        elif self.file is not None:
            self.file_done = True

    def discard(self) -> None:
        """Close and remove the temporary file, if there is one."""
        if self.file is not None:
            self.file.close()
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


async def receive_file(
    request: Request,
    csrf_token: str,
    directory: Path,
    *,
    field: str,
    max_bytes: int,
    check_name: Callable[[str], str | None],
) -> Received:
    """Stream the posted form's file into a temporary file of `directory` (see the module).

    `check_name(filename)` says why a name is refused (None: taken), before anything is written.

    Raises:
        CsrfFailed: another site's form, or the token is missing, wrong, or not first.
        FieldProblem: no file, a refused name, a body that is not a file upload (unread).
        UploadTooLarge: the file is over `max_bytes`.
    """
    if not same_origin(request):
        raise CsrfFailed()
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        # Not the console's form (multipart, its token first): refused unread, nothing done.
        raise FieldProblem(field, "Choose a file, and send it with the upload form.")
    form = _FormStream(csrf_token, directory, field, max_bytes, check_name)
    try:
        parser = MultipartParser(
            boundary,
            form.callbacks(),  # type: ignore[arg-type]
            max_header_count=8,
            max_header_size=MAX_HEADER_BYTES,
        )
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if not form.token_ok:
            raise CsrfFailed()
        if not form.file_done or form.file is None or form.path is None:
            raise FieldProblem(field, "Choose a file to upload.")
        form.file.close()
    except FormParserError:
        form.discard()
        raise FieldProblem("form", "The upload was cut short or garbled; try again.") from None
    except BaseException:  # a refusal, the client gone, the request cancelled: nothing is kept
        form.discard()
        raise
    return Received(form.filename, form.path, form.size)
