"""The one CSV-to-PostgreSQL engine: streaming read, validation, quarantine, COPY, dedup, run audit."""
