"""fullstory: not implemented yet."""

CLIENTS = ()
