"""Micro (micro.so) Prism imports (VENDORS.md §4)."""

from .client import MicroClient

CLIENTS = (MicroClient,)
