"""The vendor packages, by name: what the registry loads clients from and the simulator
loads worlds from (a module of its own so the simulator imports no client code)."""

VENDOR_PACKAGES = ("mixpanel", "fullstory", "micro", "statsig", "posthog")
