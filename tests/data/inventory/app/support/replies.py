"""Aliased import of the package, constants from another module, an unmanaged call beside a governed one."""

from openai import OpenAI

import toolchain_sdk as tc
from app import constants as shared
from app.constants import HIGH, OWNER, REFUND_SURFACE

from .templates import refund_template

client = OpenAI()
REVIEW = tc.approval.require(when="before")


@tc.governed_call(
    REFUND_SURFACE,
    owner=OWNER,
    risk=HIGH,
    prompt="support_refund_policy@production",
    model="gpt-4o-mini",
    provider="openai",
    approval=REVIEW,
    kill_flag="support.refund_reply.kill",
    fallback=refund_template,
    capture="full",
)
def draft_refund_reply(ticket: str) -> str:
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": ticket}])
    return str(resp.choices[0].message.content)


def summarise_unowned(ticket: str) -> str:
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": ticket}])
    return str(resp.choices[0].message.content)


@tc.governed_call(shared.TRIAGE_SURFACE, owner=shared.OWNER, risk="medium", model="gpt-4o-mini", provider="openai")
def triage(ticket: str) -> str:
    return client.responses.create(model="gpt-4o-mini", input=ticket).output_text
