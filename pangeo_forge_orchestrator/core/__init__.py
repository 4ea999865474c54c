"""Pure decisions: no I/O, no web, database or HTTP libraries (DESIGN §2)."""
