"""Helpers for the accounting tests that work below the service."""

from __future__ import annotations

import uuid

import psycopg


def make_plan(plain_url: str, kind: str = "percentage", value: str = "10") -> int:
    """A plan inserted straight into `plans` (for tests below the service); its id."""
    with psycopg.connect(plain_url) as conn:
        row = conn.execute(
            "INSERT INTO plans (name, kind, value) VALUES (%s, %s, %s) RETURNING id",
            (f"plan-{uuid.uuid4()}", kind, value),
        ).fetchone()
        assert row is not None
        return int(row[0])
