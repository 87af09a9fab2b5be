"""FullStory server API v2 batch imports: events and users (VENDORS.md §3)."""

from .client import FullStoryClient

CLIENTS = (FullStoryClient,)
