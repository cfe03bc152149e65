"""Helpers for the accounting tests that work below the service."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import psycopg
from hypothesis import strategies as st


def make_plan(plain_url: str, kind: str = "percentage", value: str = "10") -> int:
    """A plan inserted straight into `plans` (for tests below the service); its id."""
    with psycopg.connect(plain_url) as conn:
        row = conn.execute(
            "INSERT INTO plans (name, kind, value) VALUES (%s, %s, %s) RETURNING id",
            (f"plan-{uuid.uuid4()}", kind, value),
        ).fetchone()
        assert row is not None
        return int(row[0])


def plan_changes_and_credits(
    *, max_flat: str, max_credit: str, min_size: int = 0, max_size: int
) -> st.SearchStrategy[list[tuple[str, Decimal]]]:
    """Sequences of plan changes ("percentage", "flat-amount") and credits ("credit")."""
    money: dict[str, Any] = {"places": 2}
    return st.lists(
        st.one_of(
            st.tuples(
                st.just("percentage"),
                st.decimals(min_value=Decimal(0), max_value=Decimal(100), **money),
            ),
            st.tuples(
                st.just("flat-amount"),
                st.decimals(min_value=Decimal("0.01"), max_value=Decimal(max_flat), **money),
            ),
            st.tuples(
                st.just("credit"),
                st.decimals(min_value=Decimal("0.01"), max_value=Decimal(max_credit), **money),
            ),
        ),
        min_size=min_size,
        max_size=max_size,
    )
