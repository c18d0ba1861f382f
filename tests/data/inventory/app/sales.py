"""Every decorator form: from-import aliases, the full module path, methods, class and static methods,
dynamic arguments, and a governed block inside an async function."""

import os

import anthropic

import toolchain_sdk
from toolchain_sdk import governed
from toolchain_sdk import governed_call as gc
from toolchain_sdk.approval import not_required


def team() -> str:
    return os.environ.get("TEAM", "sales")


class Assistant:
    @gc("sales.pitch", owner="sales-eng", model="claude-sonnet-4", provider="anthropic")
    def pitch(self, lead: str) -> str:
        return lead

    @classmethod
    @gc("sales.classify", owner="sales-eng", risk="low", approval=not_required(reason="labels only, reviewed weekly"))
    def classify(cls, text: str) -> str:
        return text

    @staticmethod
    @toolchain_sdk.governed_call("sales.static_answer", owner="sales-eng", data_class="public")
    def static_answer(text: str) -> str:
        return text


@gc("sales.dynamic", owner=team(), risk=os.environ["SALES_RISK"], model="claude-x")
def dynamic(text: str) -> str:
    return text


async def security_answer(question: str) -> str:
    async with governed("sales.security_answer", model="claude-x", provider="anthropic") as call:
        msg = await anthropic.AsyncAnthropic().messages.create(model="claude-x", max_tokens=100, messages=[])
        call.record_output(msg)
    return "ok"


def unmanaged_in_place(question: str) -> object:
    return anthropic.Anthropic().messages.create(model="claude-x", max_tokens=100, messages=[])


def unresolved(client: object, question: str) -> object:
    return client.chat.completions.create(model="gpt-4o-mini", messages=[])  # a parameter: not reported
