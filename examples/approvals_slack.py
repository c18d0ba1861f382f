"""A Slack-style approver: post each approval request to a channel and wait for a reviewer's reaction.

Run it with ``.venv/bin/python examples/approvals_slack.py``. It needs no Slack account: the
"Slack" here is a LOCAL STAND-IN HTTP server on 127.0.0.1 speaking a small subset of Slack's Web
API shape (``chat.postMessage``, ``reactions.get``), with a simulated reviewer who reacts with
:white_check_mark: to refunds up to 100 and :x: to larger ones. Point ``SLACK_API`` at the real
API (and add your bot token header) to use it for real.

The approver is a plain function, so the SDK runs it on a worker thread and holds it to the
gate's timeout; an async version would use an async HTTP client and ``await asyncio.sleep``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import toolchain_sdk as tc
from toolchain_sdk.approval import ApprovalRequest, Decision

REVIEWERS = {"U_ALICE": "alice@support"}  # Slack user id -> the name recorded on the span


# --- the approver (the part you would write) ------------------------------------------------------
def slack_approver(api: str, channel: str, poll_s: float = 0.2) -> tc.approval.CallbackApprover:
    """Post the request, then poll its reactions until a reviewer answers or the request expires."""

    def call_api(method: str, payload: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            f"{api}/{method}", data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            body: dict[str, Any] = json.load(resp)
        if not body.get("ok"):
            raise RuntimeError(f"slack {method} failed: {body.get('error')}")
        return body

    def decide(request: ApprovalRequest) -> Decision:
        text = (
            f"*Approval needed* for `{request.surface}` (risk {request.risk}), request `{request.id}`\n"
            f"arguments: ```{json.dumps(dict(request.arguments), sort_keys=True)}```\n"
            f"sha256 `{request.subject_sha256[:16]}…` · expires {request.expires_at:%H:%M:%S} UTC\n"
            "React :white_check_mark: to approve or :x: to deny."
        )
        ts = call_api("chat.postMessage", {"channel": channel, "text": text})["ts"]
        while request.remaining() > 0:  # the gate denies at expiry anyway; stop asking then
            message = call_api("reactions.get", {"channel": channel, "timestamp": ts})["message"]
            for reaction in message.get("reactions", []):
                user = REVIEWERS.get(reaction["users"][0], reaction["users"][0])
                if reaction["name"] == "white_check_mark":
                    return request.approve(by=user, reason="approved in #refund-approvals")
                if reaction["name"] == "x":
                    return request.deny(by=user, reason="denied in #refund-approvals")
            time.sleep(poll_s)
        raise TimeoutError(f"nobody reacted to request {request.id} in {channel}")

    return tc.approval.callback(decide, name=f"slack({channel})")


# --- the governed surface -------------------------------------------------------------------------
def manual_review(order_id: str, amount: float) -> str:
    return f"Refund of {amount:.2f} for {order_id} was sent to a person for manual review."


def build(api: str) -> Any:
    @tc.governed_call(
        "billing.issue_refund",
        owner="billing",
        risk="high",
        fallback=manual_review,
        approval=tc.approval.require(approver=slack_approver(api, "#refund-approvals"), timeout="30s"),
    )
    def issue_refund(order_id: str, amount: float) -> str:
        return f"Refunded {amount:.2f} on {order_id}."

    return issue_refund


# --- LOCAL STAND-IN for Slack, with a simulated reviewer --------------------------------------------
class _FakeSlack(BaseHTTPRequestHandler):
    messages: ClassVar[dict[str, dict[str, Any]]] = {}
    lock: ClassVar[threading.Lock] = threading.Lock()

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        method = urllib.parse.urlsplit(self.path).path.rsplit("/", 1)[-1]
        with self.lock:
            if method == "chat.postMessage":
                ts = f"{len(self.messages) + 1}.000"
                self.messages[ts] = {"text": payload["text"], "reactions": []}
                threading.Timer(0.3, self._reviewer_reacts, args=(ts,)).start()
                body: dict[str, Any] = {"ok": True, "ts": ts}
            elif method == "reactions.get":
                body = {"ok": True, "message": self.messages[payload["timestamp"]]}
            else:
                body = {"ok": False, "error": "unknown_method"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @classmethod
    def _reviewer_reacts(cls, ts: str) -> None:
        with cls.lock:
            message = cls.messages[ts]
            amount = float(json.loads(message["text"].split("```")[1])["amount"])
            message["reactions"].append({"name": "white_check_mark" if amount <= 100 else "x", "users": ["U_ALICE"]})

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeSlack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        issue_refund = build(f"http://127.0.0.1:{server.server_port}/api")
        print("small refund ->", issue_refund("A-1001", 40.0))
        try:
            issue_refund("A-1002", 2500.0)
        except tc.ApprovalDenied as denied:
            print(f"large refund -> denied ({denied.decision}) by the reviewer: {denied.reason}")
        for message in _FakeSlack.messages.values():
            print("posted to #refund-approvals:", message["text"].splitlines()[0])
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
