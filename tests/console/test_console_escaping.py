"""Every value a page shows is escaped: no text a caller or reviewer controls can add markup (hypothesis)."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from toolchain_sdk.console._app import _templates


class _Tags(HTMLParser):
    """Collects the start tags (with their attribute names) and the text of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(sorted(a for a, _ in attrs))))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _render(value: str) -> _Tags:
    item = {
        "id": "r1", "surface": value, "owner": value, "risk": "high", "phase": "after", "status": "pending",
        "model": value, "prompt_name": value, "prompt_version": value, "created_at": "2026-11-30T10:00:00+00:00",
        "expires_at": "2026-11-30T11:00:00+00:00", "seconds_left": 60.0, "arguments": {value: value},
        "arguments_sha256": "a" * 64, "subject_sha256": "b" * 64, "hash_alg": "sha256", "trace_id": value,
        "span_id": "", "output": value, "output_kind": "text", "output_sha256": "b" * 64,
        "decision": {"verdict": "edited", "by": value, "reason": value, "decided_at": "2026-11-30T10:01:00+00:00",
                     "subject_sha256": "b" * 64, "output": value},
        "closed_at": None, "close_reason": value,
    }  # fmt: skip
    user = {"name": value, "role": "reviewer"}
    html = (
        _templates()
        .get_template("request.html")
        .render(item=item, user=user, csrf="t", has_sheet=True, has_audit=True, poll_ms=2000)
    )
    parser = _Tags()
    parser.feed(html)
    return parser


BASELINE = _render("plain").tags


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>&\"'/=ab ;:!-`")) | st.characters(), min_size=1, max_size=40))
def test_no_value_adds_markup(value: str) -> None:
    """Whatever text appears in a request, the page has exactly the elements it has for plain text."""
    assert _render(value).tags == BASELINE


def test_a_script_tag_is_text() -> None:
    """`<script>alert(1)</script>` comes back as text, and no script element appears."""
    found = _render("<script>alert(1)</script>")
    assert "<script>alert(1)</script>" in "".join(found.text)
    assert [t for t in found.tags if t[0] == "script"] == [("script", ("defer", "src"))]  # only the page's console.js
