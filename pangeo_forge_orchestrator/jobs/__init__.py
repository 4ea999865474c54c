"""Durable work: queue.py and one module per job kind."""
