"""SQLite, the source of truth: schema (rules as constraints), connections, row readers."""
