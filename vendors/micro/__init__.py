"""micro: not implemented yet."""

CLIENTS = ()
