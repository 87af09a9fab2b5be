"""Micro (micro.so) Prism imports (VENDORS.md §4)."""
# The client is listed in client.py's CLIENTS: importing the package (its simulator) loads no client code.
