"""Upload bodies built part by part, in the order given (a forged form puts them out of order)."""

from __future__ import annotations

BOUNDARY = "b0undary"
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}

Part = tuple[str, str | None, bytes]  # (field, file name or None for a plain field, content)


def multipart(*parts: Part, end: bool = True) -> bytes:
    """A `multipart/form-data` body (send it with the headers `MULTIPART`); `end=False`: cut off."""
    body = b""
    for field, filename, content in parts:
        disposition = f'form-data; name="{field}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += content + b"\r\n"
    return body + (f"--{BOUNDARY}--\r\n".encode() if end else b"")
