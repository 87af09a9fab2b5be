"""Vendor clients, normalizers and simulators. Knows nothing of Django or the ORM."""
