"""Paying AMO in cash: dues, references, confirmations, reversals, settlement (no Flask)."""
