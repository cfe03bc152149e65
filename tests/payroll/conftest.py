"""Payroll and org tests: reads outside the request transaction see the test's data too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.payroll.api import get_read_connection


@pytest.fixture(autouse=True)
def read_in_test_transaction(app: FastAPI, session: AsyncSession) -> Iterator[None]:
    """Serve the one-statement reads from the test's rolled-back transaction."""

    async def read_connection() -> Any:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        return raw.driver_connection

    app.dependency_overrides[get_read_connection] = read_connection
    yield
    app.dependency_overrides.pop(get_read_connection, None)
