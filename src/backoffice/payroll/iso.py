"""ISO 3166-1 alpha-2 countries and ISO 4217 currencies, from the pinned `pycountry` data."""

from __future__ import annotations

from functools import lru_cache

import pycountry


@lru_cache(maxsize=1)
def country_names() -> dict[str, str]:
    """Every officially assigned alpha-2 code and the country's short name."""
    return {c.alpha_2: c.name for c in pycountry.countries}


@lru_cache(maxsize=1)
def currency_names() -> dict[str, str]:
    """Every active ISO 4217 alphabetic code and the currency's name."""
    return {c.alpha_3: c.name for c in pycountry.currencies}


def is_country_code(code: str) -> bool:
    """Whether `code` (upper-case) is an assigned ISO 3166-1 alpha-2 code."""
    return code in country_names()


def is_currency_code(code: str) -> bool:
    """Whether `code` (upper-case) is an active ISO 4217 currency code."""
    return code in currency_names()
