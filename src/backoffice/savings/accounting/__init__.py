"""The accounting service: billing plans and event-sourced main and savings balances.

Its own database (`savings_accounting`) and its own Alembic history (`migrations/`); the
account aggregate's events are the source of truth, kept by the `eventsourcing` library on
PostgreSQL, with projections written in the same transaction for queries by time.
"""
