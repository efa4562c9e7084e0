"""Artisans, the RNA register, phone links and AMO status (domain services, no Flask)."""
