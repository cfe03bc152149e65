"""A statement's CSV and PDF: the figures survive the trip, hostile text neither runs nor crashes."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from backoffice.core.spreadsheet import FORMULA_STARTS
from backoffice.savings.gateway.statements import (
    Balances,
    EntryRead,
    StatementRead,
    grouped_money,
    latin1,
    plain_money,
    statement_csv,
    statement_pdf,
)

STARTS = datetime(2026, 3, 1, tzinfo=UTC)
ENDS = datetime(2026, 4, 1, tzinfo=UTC)
HEADER = [
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
]


def balances(main: Decimal, savings: Decimal) -> Balances:
    return Balances(main=main, savings=savings, total=main + savings)


def statement(
    changes: list[tuple[Decimal, Decimal]],
    *,
    opening: tuple[Decimal, Decimal] = (Decimal("100.00"), Decimal("50.00")),
    reason: str | None = None,
    mixed: bool = True,
) -> StatementRead:
    """A month whose entries move main and savings by `changes`, one a minute and a bit.

    When `mixed`, every tenth entry is a reversal (with `reason`), every seventh an interest
    posting; otherwise all are credits.
    """
    main, savings = opening
    entries = []
    interest = Decimal(0)
    for i, (to_main, to_savings) in enumerate(changes):
        main, savings = main + to_main, savings + to_savings
        kind = "credit"
        if mixed:
            kind = "reversal" if i % 10 == 9 else "interest" if i % 7 == 6 else "credit"
        amount = max(abs(to_main), abs(to_savings), Decimal("0.01"))
        interest += amount if kind == "interest" else 0
        entries.append(
            EntryRead(
                entry_id=uuid4(),
                kind=kind,
                amount=amount,
                main=to_main,
                savings=to_savings,
                main_balance=main,
                savings_balance=savings,
                at=STARTS + timedelta(minutes=i, microseconds=i * 37),
                reverses=uuid4() if kind == "reversal" else None,
                reason=reason if kind == "reversal" else None,
                period="2026-02" if kind == "interest" else None,
            )
        )
    return StatementRead(
        month="2026-03",
        starts=STARTS,
        ends=ENDS,
        opening=balances(*opening),
        closing=balances(main, savings),
        interest_earned=interest,
        entries=entries,
        total=len(entries),
    )


def credits(n: int) -> StatementRead:
    return statement([(Decimal("1.25"), Decimal("0.25"))] * n, mixed=False)


def read_csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert reader.fieldnames == HEADER
    return list(reader)


def pdf_pages(document: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(document)).pages]


cents = st.decimals(min_value=Decimal("-5000"), max_value=Decimal("5000"), places=2)


# CSV


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(cents, cents), max_size=40))
def test_the_csv_reads_back_to_the_same_figures(changes):
    month = statement(changes, reason="typo")
    rows = read_csv(statement_csv(month, holder="Ada Lovelace"))

    opening, *lines, closing = rows
    assert (opening["kind"], closing["kind"]) == ("opening", "closing")
    assert datetime.fromisoformat(opening["at"]) == STARTS
    assert datetime.fromisoformat(closing["at"]) == ENDS
    assert Decimal(opening["main_balance"]) == month.opening.main
    assert Decimal(opening["savings_balance"]) == month.opening.savings
    assert Decimal(closing["main_balance"]) == month.closing.main
    assert Decimal(closing["savings_balance"]) == month.closing.savings
    assert [opening[c] for c in ("amount", "main", "savings", "entry_id")] == [""] * 4
    assert {row["holder"] for row in rows} == {"Ada Lovelace"}
    assert len(lines) == len(month.entries)
    for row, entry in zip(lines, month.entries, strict=True):
        assert UUID(row["entry_id"]) == entry.entry_id
        assert row["kind"] == entry.kind
        assert datetime.fromisoformat(row["at"]) == entry.at
        assert row["at"].endswith("Z")
        for column in ("amount", "main", "savings", "main_balance", "savings_balance"):
            assert re.fullmatch(r"-?[0-9]+\.[0-9]{2}", row[column]), row[column]
            assert Decimal(row[column]) == getattr(entry, column)
        assert row["reverses"] == ("" if entry.reverses is None else str(entry.reverses))
        assert row["reason"] == (entry.reason or "")
        assert row["period"] == (entry.period or "")
    # The change columns sum to the month's movement: the balance rows add nothing to them.
    moved = sum((Decimal(r["main"] or 0) for r in rows), Decimal(0))
    assert moved == month.closing.main - month.opening.main
    interest = sum((Decimal(r["amount"]) for r in rows if r["kind"] == "interest"), Decimal(0))
    assert interest == month.interest_earned


def test_an_empty_month_is_its_opening_and_closing_rows():
    rows = read_csv(statement_csv(statement([])))
    assert [r["kind"] for r in rows] == ["opening", "closing"]
    assert rows[0]["holder"] == ""
    assert rows[1]["main_balance"] == "100.00"


def test_money_has_two_decimals_and_never_a_negative_zero():
    assert plain_money(Decimal("-0.00")) == "0.00"
    assert plain_money(Decimal("12.5")) == "12.50"
    assert plain_money(Decimal("-999999999999.99")) == "-999999999999.99"
    assert grouped_money(Decimal("-0")) == "0.00"
    assert grouped_money(Decimal("-0"), sign=True) == "0.00"
    assert grouped_money(Decimal("1234.5"), sign=True) == "+1,234.50"
    assert grouped_money(Decimal("-1234.5"), sign=True) == "-1,234.50"


def test_a_naive_instant_is_taken_as_utc():
    month = credits(1)
    naive = month.model_copy(
        update={"entries": [month.entries[0].model_copy(update={"at": datetime(2026, 3, 2, 9)})]}
    )
    assert read_csv(statement_csv(naive))[1]["at"] == "2026-03-02T09:00:00Z"


def test_a_formula_in_a_reason_or_the_holder_is_shown_as_typed():
    month = statement([(Decimal("-10"), Decimal("10"))] * 10, reason='=HYPERLINK("http://x")')
    rows = read_csv(statement_csv(month, holder="@SUM(A1:A9)"))
    reversal = next(r for r in rows if r["kind"] == "reversal")
    assert reversal["reason"] == '\'=HYPERLINK("http://x")'
    assert {r["holder"] for r in rows} == {"'@SUM(A1:A9)"}
    # Figures are the renderer's own: a negative change stays a number.
    assert reversal["main"] == "-10.00"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_no_free_text_reaches_a_spreadsheet_as_a_formula(reason, holder):
    month = statement([(Decimal("1"), Decimal("0"))] * 10, reason=reason)
    rows = read_csv(statement_csv(month, holder=holder))
    for row in rows:
        for column in ("reason", "holder"):
            assert not row[column].startswith(FORMULA_STARTS)
    reversal = rows[10]
    shown = reversal["reason"]
    assert shown in (reason, "'" + reason)  # the text itself is kept, only a quote put before it


# PDF


@pytest.mark.parametrize(
    ("entries", "pages"), [(0, 1), (1, 1), (37, 1), (38, 2), (87, 2), (88, 3), (500, 11)]
)
def test_the_pdf_has_a_page_for_every_page_full_of_entries(entries, pages):
    # A4 is 297 mm high and the table stops at 279 mm (18 mm for the foot); rows are 5 mm. The
    # first page's rows start at 91 mm, under the summary: 37 rows. Every later page's start at
    # 27 mm, under the running title and the heading: 50 rows. 500 = 37 + 9 * 50 + 13: 11 pages.
    document = statement_pdf(credits(entries))
    assert document.startswith(b"%PDF-")
    texts = pdf_pages(document)
    assert len(texts) == pages
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {pages}" in text
        assert "Date/time (UTC) Ref Kind Amount Main change Savings change" in text or not entries


def test_every_entry_is_in_the_pdf_once_in_order_under_a_repeated_heading():
    month = credits(500)
    texts = pdf_pages(statement_pdf(month))
    refs = [
        ref
        for text in texts
        for ref in re.findall(r"^2026-03-01 \d\d:\d\d:\d\d ([0-9a-f]{8}) ", text, re.M)
    ]
    assert refs == [str(e.entry_id)[:8] for e in month.entries]
    for text in texts[1:]:
        first, heading = text.splitlines()[:2]
        assert first == "Savings statement - March 2026"
        assert heading.startswith("Date/time (UTC) Ref Kind Amount")


def test_the_pdf_shows_the_balances_interest_and_each_entry():
    month = statement(
        [(Decimal("1234.56"), Decimal("-0.01"))] * 9 + [(Decimal("-1234.56"), Decimal("0.01"))],
        opening=(Decimal("999999999999.99"), Decimal("0.50")),
        reason="Entered twice",
    )
    text = "\n".join(pdf_pages(statement_pdf(month, holder="Ada Lovelace")))
    assert "Savings statement" in text
    assert "March 2026: 1 March 2026 to 31 March 2026, times in UTC" in text
    assert "Account holder: Ada Lovelace" in text
    assert "Opening balance, 1 March 2026 999,999,999,999.99 0.50 1,000,000,000,000.49" in text
    closing = month.closing
    assert (
        f"Closing balance, 31 March 2026 {grouped_money(closing.main)} "
        f"{grouped_money(closing.savings)} {grouped_money(closing.total)}"
    ) in text
    assert f"Interest earned {grouped_money(month.interest_earned)}" in text
    assert "Entries 10" in text
    first = month.entries[0]
    assert (
        f"2026-03-01 00:00:00 {str(first.entry_id)[:8]} credit 1,234.56 +1,234.56 -0.01 "
        f"{grouped_money(first.main_balance)} 0.49"
    ) in text
    reversal = month.entries[9]
    assert f"Reverses entry {reversal.reverses}. Reason: Entered twice" in text
    assert "Interest earned in 2026-02." in text


def test_an_empty_month_says_so():
    text = pdf_pages(statement_pdf(credits(0)))[0]
    assert "No entries in this month." in text
    assert "Account holder" not in text


def test_the_same_statement_is_the_same_bytes():
    month = credits(60)
    assert statement_pdf(month, holder="Ada") == statement_pdf(month, holder="Ada")
    other = statement_pdf(month, holder="Ada", created=datetime(2026, 4, 2, tzinfo=UTC))
    assert other != statement_pdf(month, holder="Ada")
    metadata = PdfReader(io.BytesIO(other)).metadata
    assert metadata is not None
    assert metadata.creation_date == datetime(2026, 4, 2, tzinfo=UTC)


def test_text_latin_1_lacks_is_replaced_not_a_crash():
    hostile = "Łukasz Żółć 😀 “ok” \N{EN DASH} {nb} \ud800\x00\n=cmd"
    month = statement([(Decimal("1"), Decimal("0"))] * 10, reason=hostile)
    text = "\n".join(pdf_pages(statement_pdf(month, holder=hostile)))
    assert 'Account holder: Lukasz Zólc ? "ok" - {nb} ?' in text  # "{nb}" is not a page count
    assert "Reason: Lukasz Zólc ?" in text


def test_latin1_keeps_what_it_can_and_replaces_the_rest():
    assert latin1("plain ASCII") == "plain ASCII"
    assert latin1("Ærø café") == "Ærø café"
    assert latin1("Łódź Đakovo œuvre ﬁne ①") == "Lódz Dakovo oeuvre fine 1"
    assert latin1("a\tb\nc\x85d\x7f") == "a b c d "
    assert latin1("東京 😀") == "?? ?"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300), st.text(max_size=300))
def test_any_reason_or_holder_renders(reason, holder):
    month = statement([(Decimal("2"), Decimal("1"))] * 12, reason=reason)
    document = statement_pdf(month, holder=holder)
    texts = pdf_pages(document)
    assert texts
    assert f"Page {len(texts)} of {len(texts)}" in texts[-1]
    for text in (reason, holder):
        shown = latin1(text)
        shown.encode("latin-1")
        assert not any(c < " " or "\x7f" <= c < "\xa0" for c in shown)
        assert len(shown) >= len(text)


def test_a_long_reason_wraps_under_its_row_and_is_kept_whole():
    reason = " ".join(f"word{i}" for i in range(120))
    month = statement([(Decimal("1"), Decimal("0"))] * 40, reason=reason)
    texts = pdf_pages(statement_pdf(month))
    words = re.findall(r"word\d+", "\n".join(texts))
    assert words == reason.split() * 4  # four reversals, each reason whole and in order
    # A wrapped note takes lines of its own, so the 40 rows no longer fit on the first page.
    assert len(texts) == 2
