"""Storage: engine and sessions, tables, named queries."""
