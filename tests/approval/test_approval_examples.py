"""examples/approvals_slack.py runs as a user would run it and does what it says."""

from __future__ import annotations

from tests._subproc import ROOT, run_python


def test_slack_style_approver_example() -> None:
    """The Slack-style approver posts each request and applies the reviewer's reaction."""
    proc = run_python(
        f"import runpy; runpy.run_path({str(ROOT / 'examples' / 'approvals_slack.py')!r}, run_name='__main__')"
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "small refund -> Refunded 40.00 on A-1001." in lines
    assert "large refund -> denied (denied) by the reviewer: denied in #refund-approvals" in lines
    assert sum(ln.startswith("posted to #refund-approvals: *Approval needed*") for ln in lines) == 2
