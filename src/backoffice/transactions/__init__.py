"""Financial transactions ETL and per-user summaries."""
