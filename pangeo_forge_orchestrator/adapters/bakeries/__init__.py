"""Bakeries: where recipe runs execute."""
