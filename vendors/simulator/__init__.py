"""The vendor simulator: `python -m vendors.simulator --port 9100 --scenario demo`."""
