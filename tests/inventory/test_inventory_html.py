"""The HTML control sheet in headless Chromium: filter as you type, sort by risk, summary, gaps highlighted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.inventory._fixture import APP, PROMPTS
from toolchain_sdk.inventory import control_sheet, render

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Any:
    """The fixture's control sheet, written to a file and opened with the network blocked."""
    config = tmp_path / "toolchain.toml"
    config.write_text("")
    sheet = control_sheet([APP], prompts_dir=PROMPTS, config=config, workers=1)
    path = tmp_path / "sheet.html"
    path.write_text(render(sheet, "html"))
    context = browser.new_context()
    requests: list[str] = []
    context.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()
                                         if route.request.url.startswith("file:") else route.abort()))  # fmt: skip
    page = context.new_page()
    page.goto(path.as_uri())
    yield page
    assert [u for u in requests if not u.startswith("file:")] == []  # nothing fetched from the network
    context.close()


def _visible(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#surfaces tbody tr:not([hidden])", "rs => rs.map(r => r.dataset.surface)"))


def test_typing_into_the_filter_leaves_only_matching_rows(page: Any) -> None:
    """Typing 'sales' keeps the five sales surfaces; 'platform' the two support ones; clearing shows all."""
    assert len(_visible(page)) == 7
    page.fill("#filter", "")
    page.type("#filter", "sales")
    assert sorted(_visible(page)) == ["sales.classify", "sales.dynamic", "sales.pitch", "sales.security_answer",
                                      "sales.static_answer"]  # fmt: skip
    page.fill("#filter", "")
    page.type("#filter", "PLATFORM")
    assert sorted(_visible(page)) == ["support.refund_reply", "support.triage"]
    assert page.inner_text("#count") == "2 of 7 surfaces"
    page.fill("#filter", "")
    assert len(_visible(page)) == 7


def test_sorting_by_risk_orders_high_before_low(page: Any) -> None:
    """A click on the risk header sorts high, then medium, then low; a second click reverses it."""
    page.click("#surfaces thead th:has-text('risk')")
    risks = page.eval_on_selector_all("#surfaces tbody tr td.risk-high, #surfaces tbody tr td[class^=risk-]",
                                      "cs => cs.map(c => c.textContent)")  # fmt: skip
    known = [r for r in risks if r in ("high", "medium", "low")]
    assert known == sorted(known, key=["high", "medium", "low"].index)
    assert known[0] == "high" and known[-1] == "low"
    page.click("#surfaces thead th:has-text('risk')")
    cells = page.eval_on_selector_all("#surfaces tbody td[class^=risk-]", "cs => cs.map(c => c.textContent)")
    again = [r for r in cells if r in ("high", "medium", "low")]
    assert again[0] == "low" and again[-1] == "high"


def test_summary_and_highlighted_gaps(page: Any) -> None:
    """The summary counts surfaces by risk, surfaces with gaps and unmanaged calls; gap rows are highlighted."""
    cards = dict(
        page.eval_on_selector_all(".card", "cs => cs.map(c => [c.dataset.kind, c.querySelector('b').textContent])")
    )
    assert cards["surfaces"] == "7" and cards["high risk"] == "1" and cards["medium risk"] == "1"
    assert cards["surfaces with gaps"] == "4" and cards["unmanaged call sites"] == "9"
    highlighted = page.eval_on_selector_all("tr.has-gaps", "rs => rs.map(r => r.dataset.surface)")
    assert sorted(highlighted) == ["sales.dynamic", "sales.security_answer", "support.refund_reply", "support.triage"]
    color = page.eval_on_selector("tr.has-gaps td", "c => getComputedStyle(c).backgroundColor")
    assert color not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
