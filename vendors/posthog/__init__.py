"""PostHog: batch exports (data out of PostHog) and warehouse sources (tables into it),
VENDORS.md section 7. The serializers of PostHog's own code are the contract."""
