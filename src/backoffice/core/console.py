"""The command line's rich consoles: the one place that decides how wide their output is.

Rich cuts lines to the terminal's width, and when standard output is a pipe or a file it
still takes the width of a terminal on stdin (or 80 columns): a summary table piped to
`less` or a log file came out wrapped at 80 columns. Output that is not a terminal is not
cut at all (`PIPED_WIDTH` is wider than any line the commands print) unless `COLUMNS` says
otherwise; a terminal keeps its own width.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, ConsoleDimensions

PIPED_WIDTH = 10_000


class CliConsole(Console):
    """A rich `Console` that does not wrap what it writes to a pipe or a file."""

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size; for other output, `PIPED_WIDTH` columns unless `COLUMNS` is set."""
        size = super().size
        if self.is_terminal or "COLUMNS" in self._environ:
            return size
        return ConsoleDimensions(PIPED_WIDTH, size.height)

    @size.setter
    def size(self, new_dimensions: tuple[int, int]) -> None:
        Console.size.fset(self, new_dimensions)  # type: ignore[attr-defined]


def cli_console(*, stderr: bool = False, **options: Any) -> CliConsole:
    """The console a command writes its output (or, with `stderr`, its errors) to."""
    return CliConsole(stderr=stderr, **options)
