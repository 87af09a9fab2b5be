"""Tools for running Pipewatch on one machine: `make run`'s process keeper and `make soak`."""
