"""Deterministic fallbacks (no SDK name, no client: skipped by the pre-filter)."""


def refund_template(ticket: str) -> str:
    return "We have received your refund request and will answer within two working days."
