"""The countries of the directory: the ones employees can be paid in.

Org owns the rows (`employees.country_iso` refers to them); payroll attaches versioned tax
policies to them and serves their HTTP API under `/api/v1/countries`, calling these. Same
rules as `service`: the caller's `AsyncSession`, flush and never commit, domain errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.core.db import flush_or
from backoffice.core.envelope import PageInfo
from backoffice.core.errors import Conflict, NotFound
from backoffice.core.pagination import PageParams, contains, paginate
from backoffice.org.models import Country

# What a country list may be sorted by (for `core.pagination.sorting`).
COUNTRY_SORT = {"iso_code": Country.iso_code, "name": Country.name, "currency": Country.currency}


async def country_exists(session: AsyncSession, iso_code: str) -> bool:
    """Whether employees can be paid in the country `iso_code` (upper-case alpha-2)."""
    found = await session.scalar(select(Country.iso_code).where(Country.iso_code == iso_code))
    return found is not None


async def get_country(session: AsyncSession, iso_code: str) -> Country:
    """The country `iso_code` (any case), or `NotFound`."""
    country = await session.get(Country, iso_code.upper())
    if country is None:
        raise NotFound(f"Country {iso_code.upper()!r} not found")
    return country


async def lock_country(session: AsyncSession, iso_code: str) -> Country:
    """The country row, locked until the transaction ends (`NotFound` if there is none)."""
    country = await session.scalar(
        select(Country).where(Country.iso_code == iso_code).with_for_update()
    )
    if country is None:
        raise NotFound(f"Country {iso_code!r} not found")
    return country


async def _ensure_name_free(session: AsyncSession, name: str, iso_code: str) -> None:
    holder = await session.scalar(select(Country.iso_code).where(Country.name == name))
    if holder is not None and holder != iso_code:
        raise Conflict(f"Country name {name!r} is already used by {holder}")


async def add_country(session: AsyncSession, iso_code: str, name: str, currency: str) -> bool:
    """Insert the country unless its code exists; whether it was inserted.

    A name another country holds is a `Conflict`, also when a concurrent writer takes it.
    """
    await _ensure_name_free(session, name, iso_code)
    try:
        async with session.begin_nested():
            inserted = await session.scalar(
                insert(Country)
                .values(iso_code=iso_code, name=name, currency=currency)
                .on_conflict_do_nothing(index_elements=["iso_code"])
                .returning(Country.iso_code)
            )
    except IntegrityError as exc:  # a concurrent writer took the name
        raise Conflict(f"Country name {name!r} is already used") from exc
    return inserted is not None


async def rename_country(session: AsyncSession, country: Country, name: str, currency: str) -> None:
    """Change a country's name and currency (a name a concurrent writer took is a `Conflict`)."""
    country.name, country.currency = name, currency
    await flush_or(session, Conflict(f"Country name {name!r} is already used"))
    await session.refresh(country, ["updated_at"])


async def delete_country(session: AsyncSession, country: Country) -> None:
    """Delete a country (and what cascades from it); `Conflict` while rows still refer to it."""
    await session.delete(country)
    await flush_or(session, Conflict(f"Country {country.iso_code} is still referenced"))


async def list_countries(
    session: AsyncSession,
    page: PageParams,
    order_by: Sequence[ColumnElement[Any]],
    *,
    name: str | None = None,
    currency: str | None = None,
) -> tuple[list[Country], PageInfo]:
    """One page of countries, filtered by part of the name and by currency."""
    statement = select(Country)
    if name:
        statement = statement.where(contains(Country.name, name))
    if currency:
        statement = statement.where(Country.currency == currency.upper())
    return await paginate(session, statement, page, order_by)
