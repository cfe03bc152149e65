"""A month's savings statement: its model, and the CSV and PDF a customer takes away.

`GET /api/v1/savings/statements/{YYYY-MM}` (issue 20) answers `StatementRead` as JSON; the
renderers here turn the same model into the two other shapes the route offers. They are pure
(a statement in, text or bytes out, no clock, no I/O), so the same statement always renders to
the same bytes and the tests compare them.

CSV, for a spreadsheet or an accounting import: one header row, then one row per line, nothing
else (a preamble above the header breaks every import wizard). The opening and closing balances
are rows of their own, of kind `opening` and `closing`, first and last: they carry the balances
in `main_balance` and `savings_balance` as they stood right before their `at` (the month's first
instant, and the next month's), and leave `amount`, `main` and `savings` empty, so summing a
change column over the file still gives the month's movement, and `main_balance` reads as one
continuous running balance from the opening to the closing row. The interest earned is the sum
of the `interest` rows' `amount` and is not repeated. A twelfth column, `holder`, after the
eleven of the issue, names the holder on every row (empty when not given): a file stays
self-describing when several are pasted together. Money is plain `-1234.50` (a point, two
decimals, no grouping), instants ISO 8601 in UTC with `Z`; free text (`reason`, `holder`,
`period`) goes through `core.spreadsheet` so a spreadsheet never runs it as a formula.

PDF, for a person to file: A4 portrait, Helvetica only (one of the PDF's standard fonts: nothing
to embed or fetch), the balances and interest on the first page, then the entries in a table
whose heading repeats on every page, "Page i of n" at the foot. The standard fonts hold
latin-1 alone, so every text from outside goes through `latin1`: accents kept where latin-1 has
them, letters reduced to their base (`ő` -> `o`, `ł` -> `l`), anything else a `?`, control
characters a space. The page-total placeholder holds a control character, so no such text can
spell it. A reversal's reason and reversed entry, and an interest entry's month, are a note
under their row.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal, cast
from uuid import UUID

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from pydantic import BaseModel, Field

from backoffice.core.money import MoneyOut, to_cents
from backoffice.core.spreadsheet import spreadsheet_cell

Kind = Literal["credit", "withdrawal", "transfer", "interest", "reversal"]
# A month `YYYY-MM` from 1970-01 (the ledger's instants start there) to 8999-12.
Month = Annotated[str, Field(pattern=r"^(19[7-9][0-9]|[2-8][0-9]{3})-(0[1-9]|1[0-2])$")]


class Balances(BaseModel):
    """The two balances of an account at an instant, and their sum."""

    main: MoneyOut
    savings: MoneyOut
    total: MoneyOut


class EntryRead(BaseModel):
    """One ledger entry: what moved, the signed change to each balance, the balances after it."""

    entry_id: UUID
    kind: Kind
    amount: MoneyOut
    main: MoneyOut
    savings: MoneyOut
    main_balance: MoneyOut
    savings_balance: MoneyOut
    at: datetime
    reverses: UUID | None = None
    reason: str | None = None
    period: Month | None = None


class StatementRead(BaseModel):
    """A month of an account: its opening and closing balances, interest earned, entries."""

    month: Month
    starts: datetime
    ends: datetime
    # The instant the closing balances and the entries run up to: `ends`, or for the month
    # still running the instant the statement was read at (None: `ends`).
    as_of: datetime | None = None
    holder: str | None = None  # the account holder's name
    opening: Balances
    closing: Balances
    interest_earned: MoneyOut
    entries: list[EntryRead]
    total: int


CSV_COLUMNS = (
    "at",
    "entry_id",
    "kind",
    "amount",
    "main",
    "savings",
    "main_balance",
    "savings_balance",
    "reverses",
    "reason",
    "period",
    "holder",
)


def utc(instant: datetime) -> datetime:
    """`instant` in UTC; a naive one is taken to be UTC already."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def iso_utc(instant: datetime) -> str:
    """ISO 8601 in UTC with `Z`, e.g. `2026-03-05T14:03:27.250000Z`."""
    return utc(instant).isoformat().replace("+00:00", "Z")


def plain_money(value: Decimal) -> str:
    """Money as a spreadsheet reads a number: `-1234.50` (never `-0.00`)."""
    cents = to_cents(value)
    return f"{cents.copy_abs() if cents == 0 else cents:f}"


def statement_csv(statement: StatementRead, *, holder: str | None = None) -> str:
    """The statement as CSV: header, opening row, one row per entry, closing row.

    Args:
        statement: The month, with every entry (oldest first).
        holder: The account holder's name, put on every row; empty when None.

    Returns:
        The CSV text (RFC 4180, CRLF line ends).
    """
    name = spreadsheet_cell(holder or "")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)

    def balances(kind: str, at: datetime, held: Balances) -> list[str]:
        main, savings = plain_money(held.main), plain_money(held.savings)
        return [iso_utc(at), "", kind, "", "", "", main, savings, "", "", "", name]

    writer.writerow(balances("opening", statement.starts, statement.opening))
    writer.writerows(
        [
            iso_utc(e.at),
            str(e.entry_id),
            e.kind,
            plain_money(e.amount),
            plain_money(e.main),
            plain_money(e.savings),
            plain_money(e.main_balance),
            plain_money(e.savings_balance),
            "" if e.reverses is None else str(e.reverses),
            spreadsheet_cell(e.reason or ""),
            spreadsheet_cell(e.period or ""),
            name,
        ]
        for e in statement.entries
    )
    writer.writerow(balances("closing", statement.as_of or statement.ends, statement.closing))
    return out.getvalue()


# Letters latin-1 lacks and Unicode does not decompose, and the punctuation people type.
_NEAREST = str.maketrans(
    {
        "\N{LATIN SMALL LETTER L WITH STROKE}": "l",
        "\N{LATIN CAPITAL LETTER L WITH STROKE}": "L",
        "\N{LATIN SMALL LETTER D WITH STROKE}": "d",
        "\N{LATIN CAPITAL LETTER D WITH STROKE}": "D",
        "\N{LATIN SMALL LETTER H WITH STROKE}": "h",
        "\N{LATIN CAPITAL LETTER H WITH STROKE}": "H",
        "\N{LATIN SMALL LETTER DOTLESS I}": "i",
        "\N{LATIN SMALL LIGATURE OE}": "oe",
        "\N{LATIN CAPITAL LIGATURE OE}": "OE",
        "\N{LEFT SINGLE QUOTATION MARK}": "'",
        "\N{RIGHT SINGLE QUOTATION MARK}": "'",
        "\N{SINGLE LOW-9 QUOTATION MARK}": "'",
        "\N{LEFT DOUBLE QUOTATION MARK}": '"',
        "\N{RIGHT DOUBLE QUOTATION MARK}": '"',
        "\N{DOUBLE LOW-9 QUOTATION MARK}": '"',
        "\N{HYPHEN}": "-",
        "\N{EN DASH}": "-",
        "\N{EM DASH}": "-",
        "\N{MINUS SIGN}": "-",
        "\N{HORIZONTAL ELLIPSIS}": "...",
        "\N{EURO SIGN}": "EUR",
    }
)
_CONTROLS = frozenset(map(chr, [*range(0x20), *range(0x7F, 0xA0)]))


def latin1(text: str) -> str:
    """`text` as the PDF standard fonts can draw it: latin-1, one line.

    Args:
        text: Any text (a name, a reason), from anyone.

    Returns:
        The text with control characters as spaces, other scripts' letters reduced to a
        latin-1 base letter where Unicode gives one, and `?` for whatever is left.
    """
    if text.isascii() and text.isprintable():
        return text
    kept = []
    for char in text.translate(_NEAREST):
        if char in _CONTROLS:
            kept.append(" ")
        elif char <= "\xff":
            kept.append(char)
        else:
            base = "".join(
                c
                for c in unicodedata.normalize("NFKD", char)
                if c <= "\xff" and c not in _CONTROLS and not unicodedata.combining(c)
            )
            kept.append(base or "?")
    return "".join(kept)


def grouped_money(value: Decimal, *, sign: bool = False) -> str:
    """Money for a reader: `1,234.50`; with `sign`, a change: `+1,234.50`, `-5.00`, `0.00`."""
    cents = to_cents(value)
    return f"{cents.copy_abs() if cents == 0 else cents:{'+' if sign and cents else ''},.2f}"


# The months' English names, whatever the machine's locale (the console's too).
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def long_date(day: datetime) -> str:
    """`5 March 2026`, the same whatever the machine's locale."""
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


PAGES_ALIAS = "{\x01nb}"  # latin1() turns every control character into a space
FONT = "Helvetica"
SIZE = 8.0
ROW = 5.0  # height of an entry's row, mm
NOTE = 4.0  # height of a line of an entry's note, mm
# (heading, width in mm, alignment); the widths fill A4's 210 mm less 15 mm margins.
COLUMNS = (
    ("Date/time (UTC)", 31.0, "L"),
    ("Ref", 16.0, "L"),
    ("Kind", 19.0, "L"),
    ("Amount", 22.0, "R"),
    ("Main change", 22.0, "R"),
    ("Savings change", 22.0, "R"),
    ("Main after", 24.0, "R"),
    ("Savings after", 24.0, "R"),
)


class _Document(FPDF):
    """A4 pages whose foot numbers them and whose head, once the table began, repeats it."""

    def __init__(self, running_title: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.running_title = running_title
        self.in_table = False
        self.rows_drawn = 0
        self.char_widths: dict[str, dict[str, float]] = {}
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(True, margin=18)
        self.alias_nb_pages(PAGES_ALIAS)

    def header(self) -> None:
        if self.in_table:
            self.set_font(FONT, "", SIZE)
            self.set_text_color(90)
            self.cell(0, 5, self.running_title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_text_color(0)
            self.ln(1)
            self.headings()

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FONT, "", SIZE)
        self.set_text_color(90)
        self.cell(0, 5, f"Page {self.page_no()} of {PAGES_ALIAS}", align="C")
        self.set_text_color(0)

    def width_of(self, text: str) -> float:
        """`text`'s width in the current font, from each character's width, measured once.

        `cell()` lays out every call anew (a tenth of a millisecond); a statement of 10,000
        entries draws 80,000 cells, so rows are drawn with `text()` and measured here.
        """
        widths = self.char_widths.setdefault(self.font_style, {})
        total = 0.0
        for char in text:
            if char not in widths:
                widths[char] = self.get_string_width(char) / self.font_size_pt
            total += widths[char]
        return total * self.font_size_pt

    def put(self, x: float, width: float, height: float, text: str, align: str) -> None:
        """`text` in a box at (`x`, `self.y`), its font shrunk when the box is too narrow."""
        size = self.font_size_pt
        room = width - 2 * self.c_margin
        wide = self.width_of(text)
        if wide > room:
            self.set_font_size(size * room / wide)
            wide = room
        left = x + width - self.c_margin - wide if align == "R" else x + self.c_margin
        # The baseline where cell() puts it: the box's middle, less a third of the font size.
        self.text(left, self.y + height / 2 + 0.3 * self.font_size, text)
        self.set_font_size(size)

    def row(self, cells: tuple[str, ...], height: float, fill: bool) -> None:
        """One row of the entries' table, then the line below it."""
        if fill:
            self.rect(self.l_margin, self.y, self.epw, height, style="F")
        x = self.l_margin
        for text, (_, width, align) in zip(cells, COLUMNS, strict=True):
            self.put(x, width, height, text, align)
            x += width
        self.ln(height)

    def headings(self) -> None:
        """The table's heading row."""
        self.set_font(FONT, "B", SIZE)
        self.set_fill_color(220)
        self.row(tuple(heading for heading, _, _ in COLUMNS), ROW + 1, True)
        self.set_font(FONT, "", SIZE)

    def entry(self, entry: EntryRead) -> None:
        """One entry's row, with its note under it; both on one page."""
        note = latin1(entry_note(entry))
        indent = COLUMNS[0][1]
        room = self.epw - indent
        self.set_font(FONT, "I", SIZE - 0.5)
        # Most notes are one line: measured here, only a long reason is laid out by multi_cell.
        one_line = self.width_of(note) <= room - 2 * self.c_margin
        if one_line:
            lines = 1 if note else 0
        else:
            laid = self.multi_cell(room, NOTE, note, dry_run=True, output="LINES")
            lines = len(cast(list[str], laid))
        self.set_font(FONT, "", SIZE)
        if self.will_page_break(ROW + NOTE * lines):
            self.add_page()
        fill = self.rows_drawn % 2 == 1
        self.set_fill_color(243)
        cells = (
            utc(entry.at).strftime("%Y-%m-%d %H:%M:%S"),
            str(entry.entry_id)[:8],
            entry.kind,
            grouped_money(entry.amount),
            grouped_money(entry.main, sign=True),
            grouped_money(entry.savings, sign=True),
            grouped_money(entry.main_balance),
            grouped_money(entry.savings_balance),
        )
        self.row(cells, ROW, fill)
        if lines:
            self.set_font(FONT, "I", SIZE - 0.5)
            if one_line:
                if fill:
                    self.rect(self.l_margin, self.y, self.epw, NOTE, style="F")
                self.put(self.l_margin + indent, room, NOTE, note, "L")
                self.ln(NOTE)
            else:
                self.set_x(self.l_margin + indent)
                self.multi_cell(room, NOTE, note, fill=fill)
            self.set_font(FONT, "", SIZE)
        self.rows_drawn += 1


def entry_note(entry: EntryRead) -> str:
    """What the PDF says under an entry: the entry a reversal reverses, why, the interest's month."""
    parts = []
    if entry.reverses is not None:
        parts.append(f"Reverses entry {entry.reverses}.")
    if entry.reason is not None:
        parts.append(f"Reason: {entry.reason}")
    if entry.period is not None:
        parts.append(f"Interest earned in {entry.period}.")
    return " ".join(parts)


def statement_pdf(
    statement: StatementRead, *, holder: str | None = None, created: datetime | None = None
) -> bytes:
    """The statement as a PDF to file: balances and interest, then every entry.

    Args:
        statement: The month, with every entry (oldest first).
        holder: The account holder's name, shown under the title when given.
        created: The document's creation date in its metadata; by default the statement's
            `ends`, so that one statement is always the same bytes.

    Returns:
        The PDF document.
    """
    first = utc(statement.starts)
    last = utc(statement.as_of or statement.ends) - timedelta(microseconds=1)
    month = f"{MONTH_NAMES[first.month - 1]} {first.year}"
    pdf = _Document(f"Savings statement - {month}")
    pdf.set_title(f"Savings statement {statement.month}")
    pdf.set_lang("en")
    pdf.set_creator("backoffice")
    pdf.set_creation_date(utc(created or statement.ends))
    pdf.add_page()

    pdf.set_font(FONT, "B", 18)
    pdf.cell(0, 10, "Savings statement", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 11)
    period = f"{month}: {long_date(first)} to {long_date(last)}, times in UTC"
    pdf.cell(0, 6, period, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if holder is not None:
        pdf.multi_cell(0, 6, latin1(f"Account holder: {holder}"))
    pdf.ln(4)

    pdf.set_font(FONT, "B", 10)
    pdf.set_fill_color(220)
    for heading, width in (("", 72.0), ("Main", 36.0), ("Savings", 36.0), ("Total", 36.0)):
        pdf.cell(width, 7, heading, align="R", fill=True)
    pdf.ln(7)
    pdf.set_font(FONT, "", 10)
    for label, held in (
        (f"Opening balance, {long_date(first)}", statement.opening),
        (f"Closing balance, {long_date(last)}", statement.closing),
    ):
        pdf.cell(72.0, 7, label)
        for at, value in ((87.0, held.main), (123.0, held.savings), (159.0, held.total)):
            pdf.put(at, 36.0, 7, grouped_money(value), "R")
        pdf.ln(7)
    pdf.ln(2)
    pdf.cell(72.0, 7, "Interest earned")
    pdf.cell(36.0 * 3, 7, grouped_money(statement.interest_earned), align="R")
    pdf.ln(7)
    pdf.cell(72.0, 7, "Entries")
    pdf.cell(36.0 * 3, 7, f"{len(statement.entries):,}", align="R")
    pdf.ln(12)

    pdf.set_font(FONT, "B", 12)
    pdf.cell(0, 8, "Entries", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if not statement.entries:
        pdf.set_font(FONT, "", 10)
        pdf.cell(0, 7, "No entries in this month.")
    else:
        pdf.headings()
        pdf.in_table = True
        for entry in statement.entries:
            pdf.entry(entry)
    return bytes(pdf.output())
