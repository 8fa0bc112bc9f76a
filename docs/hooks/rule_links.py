"""MkDocs hook: every behaviour rule id (RF-7, CP-9 …) in a page links to its rule.

The rules are published on ``rules.md``, one anchor per rule (``id="rf-7"``). In every other
page, guides and API reference alike, an id in running text (not in code, not already in a
link) becomes a link to that anchor. An id with no rule on that page is a warning, so a
strict build fails on it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.rule_links")

RULES_PAGE = "rules.md"
#: A rule id: an area prefix, a number, maybe a letter (RF-4a).
RULE_ID = re.compile(r"\b(?:G|ST|AC|RF|CP|RT|RP|FS|RL)-\d+[a-z]?\b")
_ANCHOR = re.compile(r'<span class="rule-id" id="([a-z]+-\d+[a-z]?)">')
_TAG = re.compile(r"(<[^>]+>)")
_OPEN = re.compile(r"<\s*([a-zA-Z0-9]+)")
_CLOSE = re.compile(r"<\s*/\s*([a-zA-Z0-9]+)")
#: Elements whose text is left alone.
_SKIP = frozenset({"a", "code", "pre", "script", "style", "textarea", "kbd", "samp"})

_anchors: set[str] = set()
_rules_url = ""


def on_files(files: Files, config: Any) -> Files:
    global _rules_url
    rules = files.get_file_from_path(RULES_PAGE)
    if rules is None:
        log.warning("rule_links: no %s to link rule ids to", RULES_PAGE)
        return files
    _rules_url = rules.url
    _anchors.clear()
    _anchors.update(_ANCHOR.findall(rules.content_string))
    return files


def on_page_content(html: str, page: Page, config: Any, files: Files) -> str:
    if page.file.src_uri == RULES_PAGE or not _rules_url:
        return html
    base = get_relative_url(_rules_url, page.url)
    skip: list[str] = []
    parts = _TAG.split(html)
    for n, part in enumerate(parts):
        if n % 2:  # a tag
            closing = _CLOSE.match(part)
            if closing:
                name = closing[1].lower()
                if skip and skip[-1] == name:
                    skip.pop()
            else:
                opening = _OPEN.match(part)
                if opening and opening[1].lower() in _SKIP and not part.endswith("/>"):
                    skip.append(opening[1].lower())
            continue
        if skip or not RULE_ID.search(part):
            continue

        def link(match: re.Match[str]) -> str:
            rule = match[0]
            anchor = rule.lower()
            if anchor not in _anchors:
                log.warning(
                    "rule_links: %s cites %s, which no rule on %s has",
                    page.file.src_uri,
                    rule,
                    RULES_PAGE,
                )
                return rule
            title = f"behaviour rule {rule}"
            return f'<a class="rule-ref" href="{base}#{anchor}" title="{title}">{rule}</a>'

        parts[n] = RULE_ID.sub(link, part)
    return "".join(parts)
