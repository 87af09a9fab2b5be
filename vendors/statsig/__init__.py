"""statsig: not implemented yet."""

CLIENTS = ()
