"""Inbound GitHub edge: receive.py (verify, store, 202) and one module per event."""
