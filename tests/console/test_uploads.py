"""The console's one upload reader (`console.uploads`): the token first, the file bounded, every
refusal leaving nothing behind.

Tested here once, on a bare app that calls `upload_to_inbox` into a temporary inbox and answers
with the error's status and message; the pages' own tests (test_merchants, test_transactions_upload)
check only how each page wires it (its dataset, its limits, its messages, its run).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from backoffice.console import uploads
from backoffice.console.uploads import receive_file, upload_to_inbox
from backoffice.core.errors import DomainError
from backoffice.ingest.inbox import Landing
from backoffice.merchants.dataset import MERCHANT_ACTIVITIES
from tests.console.multipart import MULTIPART, Part, multipart
from tests.merchants.conftest import FIXTURES

TOKEN = "the-session-token"
GOOD = (FIXTURES / "activities_20240101.csv").read_bytes()
NAME = "activities_20240101.csv"
MAX_BYTES = 10_000
TOKEN_PART: Part = ("csrf_token", None, TOKEN.encode())
FILE_PART: Part = ("file", NAME, GOOD)


def make_app(inbox: Path) -> Starlette:
    async def upload(request: Request) -> Response:
        try:
            landed = await upload_to_inbox(
                request, TOKEN, dataset=MERCHANT_ACTIVITIES, inbox=inbox, max_bytes=MAX_BYTES
            )
        except DomainError as exc:
            body = f"{type(exc).__name__}: {exc.message}"
            return PlainTextResponse(body, status_code=exc.status_code)
        return PlainTextResponse(f"landed {landed.name} {landed.size}")

    app = Starlette(routes=[Route("/upload", upload, methods=["POST"])])
    app.state.settings = SimpleNamespace(ingest_max_line_bytes=4096)
    return app


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    return tmp_path / "inbox"  # made by the first file that is taken


@pytest.fixture
async def http(inbox: Path) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(inbox))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def files(inbox: Path) -> list[str]:
    """Everything in the inbox, hidden temporary files included."""
    return sorted(p.name for p in inbox.iterdir()) if inbox.exists() else []


async def test_a_good_file_lands_whole_under_its_name(http, inbox):
    answer = await http.post("/upload", content=multipart(TOKEN_PART, FILE_PART), headers=MULTIPART)
    assert answer.text == f"landed {NAME} {len(GOOD)}"
    assert files(inbox) == [NAME]
    assert (inbox / NAME).read_bytes() == GOOD


async def test_other_small_fields_are_ignored_and_a_folder_in_the_name_dropped(http, inbox):
    body = multipart(TOKEN_PART, ("note", None, b"hello"), ("file", f"C:\\Users\\me\\{NAME}", GOOD))
    answer = await http.post("/upload", content=body, headers=MULTIPART)
    assert answer.status_code == 200, answer.text
    assert files(inbox) == [NAME]


FORGED: dict[str, bytes] = {
    "no token": multipart(FILE_PART),
    "the file before the token": multipart(FILE_PART, TOKEN_PART),
    "a wrong token": multipart(("csrf_token", None, b"forged"), FILE_PART),
    "a token with bytes past ASCII": multipart(
        ("csrf_token", None, b"\xff\x80" + b"x" * 15), FILE_PART
    ),
    "a token longer than a field": multipart(("csrf_token", None, b"t" * 5000), FILE_PART),
    "a token sent as a file": multipart(("csrf_token", "t.txt", TOKEN.encode()), FILE_PART),
    "another field first": multipart(("note", None, b"x"), TOKEN_PART, FILE_PART),
    "an empty body": b"",
}


@pytest.mark.parametrize("case", FORGED)
async def test_without_the_token_first_it_is_a_403_and_nothing_is_written(http, inbox, case):
    answer = await http.post("/upload", content=FORGED[case], headers=MULTIPART)
    assert answer.status_code == 403, answer.text  # never a 500, whatever the token's bytes
    assert answer.text.startswith("CsrfFailed")
    assert files(inbox) == [] and not inbox.exists()


async def test_another_sites_form_is_a_403_even_with_the_token(http, inbox):
    body = multipart(TOKEN_PART, FILE_PART)
    answer = await http.post(
        "/upload", content=body, headers={**MULTIPART, "origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    assert not inbox.exists()


REFUSED: dict[str, tuple[bytes, dict[str, str], int, str]] = {
    "not a multipart form": (b"csrf_token=x&file=a.csv", {"content-type": "application/x-www-form-urlencoded"}, 422, "Choose a file, and send it with the upload form"),
    "multipart without a boundary": (b"", {"content-type": "multipart/form-data"}, 422, "send it with the upload form"),
    "no file part": (multipart(TOKEN_PART), MULTIPART, 422, "Choose a file to upload."),
    "no file chosen": (multipart(TOKEN_PART, ("file", "", b"")), MULTIPART, 422, "Choose a file to upload."),
    "two files": (multipart(TOKEN_PART, FILE_PART, ("file", "activities_20240102.csv", GOOD)), MULTIPART, 422, "Send one file at a time."),
    "a file under another field": (multipart(TOKEN_PART, ("other", NAME, GOOD)), MULTIPART, 422, "Send one file at a time."),
    "too many parts": (multipart(TOKEN_PART, *[("note", None, b"x")] * 8, FILE_PART), MULTIPART, 422, "more than a file"),
    "a field too long": (multipart(TOKEN_PART, ("note", None, b"x" * 2000), FILE_PART), MULTIPART, 422, "field too long"),
    "a header line too long": (multipart(TOKEN_PART, ("file", "a" * 5000 + ".csv", GOOD)), MULTIPART, 422, "cut off or garbled"),
    "headers too long in all": (multipart(TOKEN_PART, ("file", NAME, GOOD)).replace(f'filename="{NAME}"\r\n'.encode(), f'filename="{NAME}"\r\nX-A: {"a" * 3000}\r\nX-B: {"b" * 3000}\r\n'.encode()), MULTIPART, 422, "headers too long"),
    "a name that is not UTF-8": (multipart(TOKEN_PART, ("file", "X", GOOD)).replace(b'filename="X"', b'filename="\xff_20240101.csv"'), MULTIPART, 422, "not readable text"),
    "a name the import refuses": (multipart(TOKEN_PART, ("file", "activities.csv", GOOD)), MULTIPART, 422, "only takes files named activities_YYYYMMDD.csv"),
    "a hidden name": (multipart(TOKEN_PART, ("file", ".activities_20240101.csv", GOOD)), MULTIPART, 422, "does not start with a dot"),
    "a file over max_bytes": (multipart(TOKEN_PART, ("file", NAME, GOOD * 10)), MULTIPART, 413, "The file is larger than 10,000 bytes."),
    "an empty file": (multipart(TOKEN_PART, ("file", NAME, b"")), MULTIPART, 422, "empty (0 bytes)"),
    "a header the import refuses": (multipart(TOKEN_PART, ("file", NAME, b"a,b\n1,2\n")), MULTIPART, 422, "the header does not match"),
    "cut off in the token": (multipart(TOKEN_PART)[:-30], MULTIPART, 422, "cut off"),
    "cut off in the file": (multipart(TOKEN_PART, FILE_PART)[:-200], MULTIPART, 422, "cut off"),
    "cut off before its end": (multipart(TOKEN_PART, FILE_PART, end=False), MULTIPART, 422, "cut off"),
    "garbled": (multipart(TOKEN_PART) [:-4] + b"\r\n--" + b"\x00" * 50, MULTIPART, 422, "cut off or garbled"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED)
async def test_every_refusal_is_a_message_and_leaves_nothing(http, inbox, case):
    body, headers, status, message = REFUSED[case]
    answer = await http.post("/upload", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert message in answer.text
    assert files(inbox) == []  # not even the temporary file


async def test_a_refused_name_is_refused_before_anything_is_written(http, inbox):
    body = multipart(TOKEN_PART, ("file", "notes.txt", GOOD * 100))
    answer = await http.post("/upload", content=body, headers=MULTIPART)
    assert answer.status_code == 422
    assert not inbox.exists()  # the inbox was not even made


async def test_a_file_already_there_is_not_replaced(http, inbox):
    inbox.mkdir()
    (inbox / NAME).write_bytes(b"the original")
    answer = await http.post("/upload", content=multipart(TOKEN_PART, FILE_PART), headers=MULTIPART)
    assert answer.status_code == 422
    assert "already in the inbox" in answer.text
    assert files(inbox) == [NAME] and (inbox / NAME).read_bytes() == b"the original"


async def test_an_inbox_that_cannot_take_files_is_a_503(http, inbox):
    inbox.write_bytes(b"a file where the folder should be")
    answer = await http.post("/upload", content=multipart(TOKEN_PART, FILE_PART), headers=MULTIPART)
    assert answer.status_code == 503
    assert "The inbox cannot take the file now" in answer.text
    assert inbox.read_bytes() == b"a file where the folder should be"


async def test_the_file_is_on_disk_as_it_arrives_under_a_name_no_import_reads(http, inbox):
    body = multipart(TOKEN_PART, ("file", NAME, GOOD))
    half = len(body) // 2
    seen_midway: list[tuple[str, int]] = []

    async def sender() -> AsyncIterator[bytes]:
        yield body[:half]
        await asyncio.sleep(0.05)
        seen_midway.extend((p.name, p.stat().st_size) for p in inbox.iterdir())
        yield body[half:]

    answer = await http.post("/upload", content=sender(), headers=MULTIPART)
    assert answer.status_code == 200, answer.text
    assert len(seen_midway) == 1, seen_midway
    partial, size = seen_midway[0]
    assert partial.startswith(".upload-") and partial.endswith(".part")
    assert 0 < size < len(GOOD)
    assert files(inbox) == [NAME]


async def in_chunks(body: bytes, size: int, sent: list[int]) -> AsyncIterator[bytes]:
    """`body` sent `size` bytes at a time, noting in `sent` each chunk the server asked for."""
    for start in range(0, len(body), size):
        sent.append(start)
        yield body[start : start + size]


async def test_a_form_without_its_token_first_is_not_read_further(http, inbox):
    """The refusal comes from the first part: the file's bytes are never asked for."""
    sent: list[int] = []
    answer = await http.post(
        "/upload", content=in_chunks(multipart(FILE_PART), 200, sent), headers=MULTIPART
    )
    assert answer.status_code == 403
    assert len(sent) == 1, f"{len(sent)} chunks of the body were read"
    assert not inbox.exists()


async def test_a_file_over_the_limit_is_refused_as_it_arrives(http, inbox):
    """Counted before it is buffered: the rest of an oversized body is never read."""
    body = multipart(TOKEN_PART, ("file", NAME, GOOD * 100))
    sent: list[int] = []
    answer = await http.post("/upload", content=in_chunks(body, 4096, sent), headers=MULTIPART)
    assert answer.status_code == 413
    assert len(sent) < 5, len(sent)
    assert files(inbox) == []


async def test_a_cancelled_request_leaves_nothing(inbox):
    """The client goes away mid-file: the task is cancelled, the temporary file removed."""
    body = multipart(TOKEN_PART, FILE_PART)
    more = asyncio.Event()
    messages = [{"type": "http.request", "body": body[: len(body) // 2], "more_body": True}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await more.wait()  # never: the rest does not come
        return {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/upload",
        "headers": [(b"content-type", MULTIPART["content-type"].encode())],
    }
    request = Request(scope, receive)

    def landing(name: str) -> Landing:
        return Landing(MERCHANT_ACTIVITIES, inbox, name, 4096)

    task = asyncio.create_task(receive_file(request, TOKEN, sink_for=landing, max_bytes=MAX_BYTES))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if files(inbox):
            break
    assert len(files(inbox)) == 1 and files(inbox)[0].startswith(".upload-")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files(inbox) == []


def test_sizes_read_plainly():
    assert uploads.size_text(512 << 20) == "512 MiB"
    assert uploads.size_text(1000) == "1,000 bytes"
