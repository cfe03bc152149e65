"""Cells a spreadsheet shows as typed: the one guard against CSV formula injection.

A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and
some strip a leading tab or carriage return first), so a name or a reason typed by someone else
could compute, or call out, on the reader's machine. Every CSV this project writes passes its
free text through `spreadsheet_cell`; numbers it formats itself need no guard.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """`value` as a spreadsheet would show it typed: text that would run gets a leading `'`.

    Args:
        value: A cell; only text is ever changed.

    Returns:
        The value, with `'` before text that starts like a formula.
    """
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value
