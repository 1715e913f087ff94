"""Board drivers: the driver model and backends found by name (issue 3)."""
