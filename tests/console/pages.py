"""Reading console pages in fast tests: tables by caption, field errors, notices."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: str | None = None
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._in_caption = False
        self._in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._caption, self._rows = "", []
        elif tag == "caption":
            self._in_caption = True
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._rows is not None and not self._in_head:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None and not self._in_head:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = False
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None and self._rows is not None:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables[self._caption or ""] = self._rows
            self._rows = None

    def handle_data(self, data: str) -> None:
        if self._in_caption and self._caption is not None:
            self._caption += data.strip()
        elif self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    """Every table of a page by its caption: its body's rows as lists of cell texts."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def field_error(html: str, name: str) -> str | None:
    """The error drawn next to the field `name`, or None."""
    found = re.search(rf'<p class="error" id="f-{re.escape(name)}-error">([^<]*)</p>', html)
    return unescape(found.group(1)) if found else None


def form_error(html: str) -> str | None:
    """The error of the form as a whole, or None."""
    found = re.search(r'<p class="error form-error" role="alert">([^<]*)</p>', html)
    return unescape(found.group(1)) if found else None


def notice(html: str) -> str | None:
    """The notice shown once after a form, or None."""
    found = re.search(r'<p class="notice" role="status">([^<]*)</p>', html)
    return unescape(found.group(1)) if found else None
