"""Seeded generator of realistic activity files, defects included (benchmarks and tests).

The shape follows the files from the field: about 27,000 rows a day, ~10,000 merchants each
with a fixed region and tier, product mix, amount ranges, status and channel mixes per
product, KYC amounts of 0.0, timestamps in order within a day, CRLF line ends. The defects the
field files show come at the rates measured there (per row: blank timestamp 1.0e-4,
`NOT-A-DATE` 0.8e-4, `INVALID` amount 2.0e-4, blank merchant 1.0e-4); the other defects the
issue lists (invalid UUID, malformed merchant, unknown enums, negative amount, wrong field
count, duplicates within and across files, quoted commas, BOM and odd header spelling) come at
small rates so that every rule is exercised at any size.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path

from backoffice.merchants.dataset import EVENT_TYPES

HEADER = (
    "event_id,merchant_id,event_timestamp,product,event_type,amount,status,channel,region,"
    "merchant_tier"
)
ODD_HEADER = (
    "\ufeffEvent_ID, Merchant ID ,EVENT_TIMESTAMP,Product,Event Type,Amount,Status,Channel,"
    "Region,Merchant-Tier"
)
REGIONS = (
    "LAGOS",
    "ABUJA",
    "KANO",
    "IBADAN",
    "KADUNA",
    "ENUGU",
    "RIVERS",
    "OGUN",
    "DELTA",
    "PORT_HARCOURT",
)
TIER_WEIGHTS = (("VERIFIED", 48), ("PREMIUM", 32), ("STARTER", 20))
PRODUCT_WEIGHTS = (
    ("POS", 25), ("AIRTIME", 18), ("BILLS", 16), ("SAVINGS", 12), ("MONIEBOOK", 11),
    ("CARD_PAYMENT", 10), ("KYC", 7),
)  # fmt: skip
AMOUNT_MAX = {
    "POS": 500_000, "AIRTIME": 10_000, "BILLS": 100_000, "SAVINGS": 500_000,
    "MONIEBOOK": 100_000, "CARD_PAYMENT": 2_000_000, "KYC": 0,
}  # fmt: skip
CHANNELS_BY_PRODUCT = {
    "POS": ("POS",),
    "AIRTIME": ("POS", "POS", "APP", "APP", "USSD", "WEB"),
    "BILLS": ("APP", "APP", "POS", "POS", "WEB", "USSD"),
    "CARD_PAYMENT": ("APP", "APP", "WEB", "WEB", "POS"),
    "SAVINGS": ("APP", "APP", "APP", "USSD", "WEB", "POS"),
    "MONIEBOOK": ("APP", "APP", "APP", "OFFLINE", "WEB"),
    "KYC": ("APP", "APP", "WEB"),
}
STATUS_WEIGHTS = (("SUCCESS", 92), ("FAILED", 5), ("PENDING", 3))


@dataclass(frozen=True)
class DefectRates:
    """Probability per row of each defect."""

    blank_timestamp: float = 1.0e-4
    not_a_date: float = 0.8e-4
    invalid_amount: float = 2.0e-4
    blank_merchant: float = 1.0e-4
    invalid_uuid: float = 2e-5
    malformed_merchant: float = 2e-5
    unknown_product: float = 2e-5
    foreign_event_type: float = 2e-5
    unknown_status: float = 2e-5
    blank_status: float = 1e-5
    unknown_channel: float = 2e-5
    unknown_tier: float = 2e-5
    negative_amount: float = 2e-5
    blank_amount: float = 1e-5
    too_many_fields: float = 1e-5
    too_few_fields: float = 1e-5
    quoted_comma: float = 2e-5
    duplicate_in_file: float = 1e-4
    duplicate_across_files: float = 1e-4
    odd_header_every: int = 50  # every Nth file has a BOM and an oddly spelt header


NO_DEFECTS = DefectRates(**{f.name: 0 for f in fields(DefectRates)})


def _weighted(pairs: tuple[tuple[str, int], ...]) -> list[str]:
    return [name for name, weight in pairs for _ in range(weight)]


class ActivityGenerator:
    """Rows of activity, seeded: the same seed gives the same files byte for byte."""

    def __init__(self, seed: int = 42, merchants: int = 9_999, rates: DefectRates | None = None):
        self.random = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
        self.rates = rates or DefectRates()
        self.merchants = merchants
        rnd = self.random
        self.regions = [rnd.choice(REGIONS) for _ in range(merchants + 1)]
        tiers = _weighted(TIER_WEIGHTS)
        self.tiers = [rnd.choice(tiers) for _ in range(merchants + 1)]
        # A few merchants are far busier than the rest, as in the field.
        self.activity = [rnd.paretovariate(2.5) for _ in range(merchants)]
        self.products = _weighted(PRODUCT_WEIGHTS)
        self.statuses = _weighted(STATUS_WEIGHTS)
        self.recent_ids: list[str] = []
        self.previous_file_ids: list[str] = []
        defects = [(name, p) for name, p in vars(self.rates).items() if name != "odd_header_every"]
        self.any_defect = sum(p for _, p in defects)
        self.defects = defects

    def _uuid(self) -> str:
        h = f"{self.random.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def rows(self, day: date, count: int) -> Iterator[list[str]]:
        """`count` rows of `day`, in timestamp order."""
        rnd = self.random
        seconds = sorted(rnd.randrange(86_400) for _ in range(count))
        merchants = rnd.choices(range(1, self.merchants + 1), weights=self.activity, k=count)
        prefix = day.isoformat()
        file_ids: list[str] = []
        for second, merchant in zip(seconds, merchants, strict=True):
            product = rnd.choice(self.products)
            status = rnd.choice(self.statuses)
            top = AMOUNT_MAX[product]
            amount = (
                "0.0" if top == 0 else f"{top * max(rnd.random() ** 2.5, 2e-4):.2f}".rstrip("0")
            )
            if amount.endswith("."):
                amount += "0"
            event_id = self._uuid()
            row = [
                event_id,
                f"MRC-{merchant:06d}",
                f"{prefix}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}",
                product,
                rnd.choice(EVENT_TYPES[product]),
                amount,
                status,
                rnd.choice(CHANNELS_BY_PRODUCT[product]),
                self.regions[merchant],
                self.tiers[merchant],
            ]
            if rnd.random() < self.any_defect:
                self._spoil(row, file_ids)
            file_ids.append(row[0])
            if len(file_ids) > 1000:
                del file_ids[:500]
            yield row
        self.previous_file_ids = file_ids[-500:]

    def _spoil(self, row: list[str], file_ids: list[str]) -> None:
        rnd = self.random
        pick = rnd.random() * self.any_defect
        chosen = self.defects[-1][0]
        for name, p in self.defects:
            pick -= p
            if pick < 0:
                chosen = name
                break
        match chosen:
            case "blank_timestamp":
                row[2] = ""
            case "not_a_date":
                row[2] = "NOT-A-DATE"
            case "invalid_amount":
                row[5] = "INVALID"
            case "blank_merchant":
                row[1] = ""
            case "invalid_uuid":
                row[0] = row[0][:-3] + "xyz"
            case "malformed_merchant":
                row[1] = "MRC-" + row[1][-3:]
            case "unknown_product":
                row[3] = "LOANS"
            case "foreign_event_type":
                row[4] = "TIER_UPGRADE" if row[3] != "KYC" else "DEPOSIT"
            case "unknown_status":
                row[6] = "REVERSED"
            case "blank_status":
                row[6] = ""
            case "unknown_channel":
                row[7] = "CARRIER_PIGEON"
            case "unknown_tier":
                row[9] = "GOLD"
            case "negative_amount":
                row[5] = "-" + row[5]
            case "blank_amount":
                row[5] = ""
            case "too_many_fields":
                row.append("EXTRA")
            case "too_few_fields":
                row.pop()
            case "quoted_comma":
                row[8] = f'"{row[8]}, ""ANNEX"""'
            case "duplicate_in_file" if file_ids:
                row[0] = rnd.choice(file_ids)
            case "duplicate_across_files" if self.previous_file_ids:
                row[0] = rnd.choice(self.previous_file_ids)

    def write_day(self, directory: Path, day: date, count: int, index: int = 0) -> Path:
        """Write `activities_YYYYMMDD.csv` with `count` rows of `day`."""
        path = directory / f"activities_{day:%Y%m%d}.csv"
        every = self.rates.odd_header_every
        header = ODD_HEADER if every and index % every == every - 1 else HEADER
        with path.open("w", encoding="utf-8", newline="") as out:
            out.write(header + "\r\n")
            batch: list[str] = []
            for row in self.rows(day, count):
                batch.append(",".join(row))
                if len(batch) >= 10_000:
                    out.write("\r\n".join(batch) + "\r\n")
                    batch.clear()
            if batch:
                out.write("\r\n".join(batch) + "\r\n")
        return path


def generate(
    directory: Path,
    rows: int,
    *,
    per_day: int = 27_400,
    start: date = date(2024, 1, 1),
    seed: int = 42,
    rates: DefectRates | None = None,
) -> list[Path]:
    """Write `rows` rows as daily files of `per_day` rows from `start`; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    generator = ActivityGenerator(seed, rates=rates)
    paths = []
    index = 0
    while rows > 0:
        count = min(per_day, rows)
        paths.append(generator.write_day(directory, start + timedelta(days=index), count, index))
        rows -= count
        index += 1
    return paths
