"""Application start-up: the audit sink is configured here."""

import toolchain_sdk as tc

tc.configure(service_name="support-bot", audit=tc.audit.jsonl("audit.jsonl"))
