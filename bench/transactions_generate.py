"""Write N transactions (seeded) as CSV exports, with the defects of real exports at low rates.

    .venv/bin/python bench/transactions_generate.py /tmp/tx --rows 10000000
    .venv/bin/python bench/transactions_generate.py /tmp/tx1 --rows 10000000 --per-file 10000000

Files `transactions_YYYYMMDD_NNNN.csv` (the date of the file's first row, then its number: name
order is load order), `--per-file` rows each (default one day: 27,400 rows), written a chunk
at a time (vectorised with numpy and polars, never a whole file in memory).

The rows: `TXN` + ten digits, ascending with the export; `--users` users (default rows / 100,
at least 1,000), activity log-normal (sigma 1.2: the median user has half the mean's rows, the
busiest ~200x the median); amounts log-normal around $40 (8% refunds, negative), 10% written
with `$`, 2% with `+`, 3% whole units (`+7`); dates in the four formats (55% `YYYY-MM-DD`, 15%
each `YYYY/MM/DD`, `MM/DD/YYYY`, `DD-MM-YYYY`), the export's day for 70% of the rows and up to 60
days earlier for the rest (late arrivals), so the date follows the load order.

Defects, per row (~1.6% of the lines in all): blank amount 0.25%, blank date 0.25%, impossible
date 0.1% (`02/30/2024`, `2023-02-29`, `31-04-2024`, `2024/13/01`), other date shapes 0.08%,
other amount shapes 0.08% (`12.345`, `abc`, `$-5.00`, `1e5`, `12.`), a quoted `"1,000.00"` 0.002%
and a quoted id 0.002% (valid), whitespace around the amount 0.05% (valid once trimmed), blank
or bad user id 0.02% each, blank id 0.01%, an extra field 0.01%; then repeated lines: exact
repeats 0.4%, the same values written another way (`$`, another date format: a plain duplicate)
0.1%, the same id with another amount, date or user 0.1% (conflicting), a third of them from the
previous chunk (often the previous file). Per file: CRLF line ends one file in four, an upper-case
header one in ten, a UTF-8 BOM one in twenty.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

HEADER = "transaction_id,user_id,amount,transaction_date"
UPPER_HEADER = "Transaction_ID,User_ID,Amount,Transaction_Date"
BOM = "\ufeff"
CHUNK = 250_000
START = date(2024, 1, 1)
EPOCH_DAYS = (START - date(1970, 1, 1)).days
# (name, rate): exclusive defects of a row, drawn from one uniform number.
DEFECTS = (
    ("blank_amount", 25e-4),
    ("blank_date", 25e-4),
    ("impossible_date", 10e-4),
    ("bad_date", 8e-4),
    ("bad_amount", 8e-4),
    ("quoted_amount", 2e-5),
    ("quoted_id", 2e-5),
    ("padded_amount", 5e-4),
    ("blank_user", 2e-4),
    ("bad_user", 2e-4),
    ("blank_id", 1e-4),
    ("extra_field", 1e-4),
)
REPEAT, REFORMATTED, CONFLICTING = 4e-3, 1e-3, 1e-3
FROM_PREVIOUS = 1 / 3
IMPOSSIBLE = ("02/30/2024", "2023-02-29", "31-04-2024", "2024/13/01", "00-01-2024", "2024-06-31")
BAD_DATES = ("2024.01.05", "1/5/2024", "2024-1-05", "5 Jan 2024", "20240105", "24-01-05")
BAD_AMOUNTS = ("12.345", "abc", "$-5.00", "1e5", "12.", "N/A", "--5")
BAD_USERS = ("-5", "0", "12.5", "2147483648", "u1001")
FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d-%m-%Y")
FORMAT_P = (0.55, 0.15, 0.15, 0.15)


@dataclass
class Population:
    """Who transacts, and how much: fixed for a run."""

    ids: np.ndarray  # user ids, in the order of `cumulative`
    cumulative: np.ndarray  # cumulative activity share

    @classmethod
    def of(cls, users: int, seed: int) -> Population:
        rng = np.random.default_rng([seed, 0])
        ids = rng.permutation(users).astype(np.int64) + 1001  # busy users are not the low ids
        activity = rng.lognormal(0.0, 1.2, users)
        cumulative = np.cumsum(activity)
        return cls(ids, cumulative / cumulative[-1])

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        at = np.searchsorted(self.cumulative, rng.random(n), side="right")
        return self.ids[np.minimum(at, len(self.ids) - 1)]


def _amount_text(cents: pl.Expr, style: pl.Expr) -> pl.Expr:
    """cents -> `-3437.55`, `$4990.00`, `-$12.50`, `+7` (style 0 plain, 1 `$`, 2 `+`, 3 units)."""
    units = (cents.abs() // 100).cast(pl.String)
    fraction = (cents.abs() % 100).cast(pl.String).str.zfill(2)
    sign = (
        pl.when(cents < 0)
        .then(pl.lit("-"))
        .when(style == 2)
        .then(pl.lit("+"))
        .otherwise(pl.lit(""))
    )
    dollar = pl.when(style == 1).then(pl.lit("$")).otherwise(pl.lit(""))
    decimals = pl.when(style == 3).then(pl.lit("")).otherwise("." + fraction)
    return pl.concat_str([sign, dollar, units, decimals])


def _date_text(day: pl.Expr, form: pl.Expr) -> pl.Expr:
    expr = pl.when(form == 0).then(day.dt.strftime(FORMATS[0]))
    for i, f in enumerate(FORMATS[1:], start=1):
        expr = expr.when(form == i).then(day.dt.strftime(f))
    return expr


def _render(frame: pl.DataFrame) -> pl.DataFrame:
    """The four text columns of rows given as numbers (id, user, cents, day, style, form)."""
    return frame.with_columns(
        transaction_id="TXN" + pl.col("seq").cast(pl.String).str.zfill(10),
        user=pl.col("user_id").cast(pl.String),
        amount=_amount_text(pl.col("cents"), pl.col("style")),
        date=_date_text(pl.col("day"), pl.col("form")),
    )


def _base_rows(
    rng: np.random.Generator, first: int, n: int, per_day: int, people: Population
) -> pl.DataFrame:
    seq = np.arange(first, first + n, dtype=np.int64)
    cents = np.minimum(np.rint(rng.lognormal(np.log(4000), 1.3, n)), 99_999_999).astype(np.int64)
    cents = np.maximum(cents, 1)
    style = rng.choice(4, n, p=(0.85, 0.10, 0.02, 0.03))
    cents = np.where(style == 3, np.maximum(cents // 100, 1) * 100, cents)
    cents = np.where(rng.random(n) < 0.08, -cents, cents)
    lag = np.where(
        rng.random(n) < 0.70,
        0,
        np.where(rng.random(n) < 25 / 30, rng.integers(1, 8, n), rng.integers(8, 61, n)),
    )
    day = np.maximum(seq // per_day - lag, 0)
    frame = pl.DataFrame(
        {
            "seq": seq + 1,
            "user_id": people.draw(rng, n),
            "cents": cents,
            "style": style,
            "day": pl.Series(day + EPOCH_DAYS, dtype=pl.Int32).cast(pl.Date),
            "form": rng.choice(4, n, p=FORMAT_P),
            "order": np.arange(n, dtype=np.int64) * 2,
        }
    )
    return _render(frame)


def _defects(rng: np.random.Generator, frame: pl.DataFrame) -> pl.DataFrame:
    n = frame.height
    u = rng.random(n)
    bounds = np.cumsum([rate for _, rate in DEFECTS])
    kind = np.searchsorted(bounds, u, side="right")  # len(DEFECTS): no defect
    names = {name: i for i, (name, _) in enumerate(DEFECTS)}

    def pick(values: tuple[str, ...]) -> pl.Series:
        return pl.Series(rng.choice(values, n))

    k = pl.Series("kind", kind)
    amount, day, user, tid = (pl.col(c) for c in ("amount", "date", "user", "transaction_id"))
    return (
        frame.with_columns(k)
        .with_columns(
            amount=pl.when(pl.col("kind") == names["blank_amount"])
            .then(pl.lit(""))
            .when(pl.col("kind") == names["bad_amount"])
            .then(pick(BAD_AMOUNTS))
            .when(pl.col("kind") == names["quoted_amount"])
            .then(pl.lit('"1,000.00"'))
            .when(pl.col("kind") == names["padded_amount"])
            .then("  " + amount + " ")
            .otherwise(amount),
            date=pl.when(pl.col("kind") == names["blank_date"])
            .then(pl.lit(""))
            .when(pl.col("kind") == names["impossible_date"])
            .then(pick(IMPOSSIBLE))
            .when(pl.col("kind") == names["bad_date"])
            .then(pick(BAD_DATES))
            .otherwise(day),
            user=pl.when(pl.col("kind") == names["blank_user"])
            .then(pl.lit(""))
            .when(pl.col("kind") == names["bad_user"])
            .then(pick(BAD_USERS))
            .otherwise(user),
            transaction_id=pl.when(pl.col("kind") == names["blank_id"])
            .then(pl.lit(""))
            .when(pl.col("kind") == names["quoted_id"])
            .then('"' + tid + '"')
            .otherwise(tid),
            extra=pl.when(pl.col("kind") == names["extra_field"])
            .then(pl.lit(",x"))
            .otherwise(pl.lit("")),
        )
        .drop("kind")
    )


def _repeats(
    rng: np.random.Generator, current: pl.DataFrame, previous: pl.DataFrame | None
) -> pl.DataFrame:
    """Later lines repeating earlier ones: exact, reformatted, or conflicting."""
    n = current.height
    count = rng.binomial(n, REPEAT + REFORMATTED + CONFLICTING)
    if count == 0:
        return current.clear()
    kind = rng.choice(
        3,
        count,
        p=np.array([REPEAT, REFORMATTED, CONFLICTING]) / (REPEAT + REFORMATTED + CONFLICTING),
    )
    older = previous is not None and previous.height > 0
    from_previous = (rng.random(count) < FROM_PREVIOUS) & older
    source = rng.integers(0, n, count)
    target = np.minimum(n - 1, source + 1 + rng.geometric(1 / 2000, count))
    if older:
        assert previous is not None
        back = rng.integers(0, previous.height, count)
        source = np.where(from_previous, back, source)
        target = np.where(from_previous, rng.integers(0, n, count), target)
        pool = pl.concat([previous, current], how="vertical")
        source = np.where(from_previous, source, source + previous.height)
    else:
        pool = current
    rows = pool[source].with_columns(
        order=pl.Series(target * 2 + 1, dtype=pl.Int64), repeat=pl.Series(kind)
    )
    # Another way of writing the same values (a plain duplicate)...
    reformatted = pl.col("repeat") == 1
    rows = rows.with_columns(
        form=pl.when(reformatted).then((pl.col("form") + 1) % 4).otherwise(pl.col("form")),
        style=pl.when(reformatted & (pl.col("style") == 0))
        .then(pl.lit(1, dtype=pl.Int64))
        .otherwise(pl.col("style")),
    )
    # ... or another amount, date or user under the same id (a conflicting duplicate).
    what = pl.Series(rng.integers(0, 3, count))
    conflicting = pl.col("repeat") == 2
    rows = rows.with_columns(
        style=pl.when(conflicting & (pl.col("style") == 3))
        .then(pl.lit(0, dtype=pl.Int64))
        .otherwise(pl.col("style")),
        cents=pl.when(conflicting & (what == 0)).then(pl.col("cents") + 1).otherwise("cents"),
        day=pl.when(conflicting & (what == 1))
        .then(pl.col("day") + pl.duration(days=1))
        .otherwise("day"),
        user_id=pl.when(conflicting & (what == 2)).then(pl.col("user_id") + 1).otherwise("user_id"),
    )
    # Exact repeats keep the source's line as it was, defects included.
    exact = rows.filter(pl.col("repeat") == 0)
    changed = _render(rows.filter(pl.col("repeat") != 0)).with_columns(extra=pl.lit(""))
    return pl.concat([exact, changed], how="vertical").drop("repeat")


def generate(
    directory: Path,
    rows: int,
    *,
    per_file: int = 27_400,
    per_day: int = 27_400,
    users: int | None = None,
    seed: int = 42,
) -> list[Path]:
    """Write the files; return their paths (name order = load order)."""
    directory.mkdir(parents=True, exist_ok=True)
    people = Population.of(users or max(1_000, rows // 100), seed)
    meta = np.random.default_rng([seed, 1])
    paths: list[Path] = []
    previous: pl.DataFrame | None = None
    first, chunk_index = 0, 0
    while first < rows:
        n_file = min(per_file, rows - first)
        day = START + timedelta(days=first // per_day)
        path = directory / f"transactions_{day:%Y%m%d}_{len(paths):04d}.csv"
        crlf, upper, bom = meta.random() < 0.25, meta.random() < 0.10, meta.random() < 0.05
        end = "\r\n" if crlf else "\n"
        with path.open("w", encoding="utf-8", newline="") as out:
            out.write((BOM if bom else "") + (UPPER_HEADER if upper else HEADER) + end)
            done = 0
            while done < n_file:
                n = min(CHUNK, n_file - done)
                rng = np.random.default_rng([seed, 2, chunk_index])
                base = _base_rows(rng, first + done, n, per_day, people)
                base = _defects(rng, base)
                lines = pl.concat([base, _repeats(rng, base, previous)], how="vertical")
                lines = lines.sort("order")
                text = lines.select(
                    pl.concat_str(
                        [
                            pl.col("transaction_id"),
                            pl.col("user"),
                            pl.col("amount"),
                            pl.col("date"),
                        ],
                        separator=",",
                    )
                    + pl.col("extra")
                ).to_series()
                out.write(text.str.join(end).item() + end)
                previous = base
                done += n
                chunk_index += 1
        paths.append(path)
        first += n_file
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000, help="transactions (before repeats)")
    parser.add_argument("--per-file", type=int, default=27_400, help="rows per file")
    parser.add_argument("--per-day", type=int, default=27_400, help="rows per export day")
    parser.add_argument("--users", type=int, default=None, help="default rows / 100")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    started = time.perf_counter()
    paths = generate(
        args.directory,
        args.rows,
        per_file=args.per_file,
        per_day=args.per_day,
        users=args.users,
        seed=args.seed,
    )
    size = sum(p.stat().st_size for p in paths)
    seconds = time.perf_counter() - started
    print(
        f"{args.rows:,} rows (+ repeats) in {len(paths)} files, {size / 1e6:,.0f} MB,"
        f" {seconds:.1f} s ({args.rows / seconds:,.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
