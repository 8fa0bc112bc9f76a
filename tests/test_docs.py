"""The documentation cannot rot: the site builds strictly and every Python example runs."""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from aftersales import AfterSales, FrozenClock
from aftersales.backends.memory import MemoryBackend
from aftersales.testing import build_scenario

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _world() -> dict[str, object]:
    backend = MemoryBackend()
    app = AfterSales(backend, clock=FrozenClock("2026-11-28T09:00:00+00:00"))
    world = backend.builder(app.clock)
    sc = build_scenario(world)
    return {
        "app": app,
        "backend": backend,
        "world": world,
        "scenario": sc,
        "team": sc.team,
        "ticket": sc.ticket,
        "customer": sc.customer,
        "invoice": sc.invoice,
        "paid_invoice": sc.paid_invoice,
        "delivery": sc.delivery,
        "program": sc.program,
        "project": sc.project,
        "order": sc.order,
        "blender": sc.blender,
        "kettle": sc.kettle,
        "manager": sc.actors.manager,
        "agent": sc.actors.agent,
        "system": sc.actors.system,
    }


def _examples(page: Path) -> list[str]:
    return FENCE.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "page", [p for p in PAGES if _examples(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_python_examples_run(page: Path) -> None:
    """Every ```python block of a page runs, in order, in one namespace.

    The namespace starts with the standard world, so guides can use ``app``, ``backend``,
    ``world``, ``scenario``, ``team``, ``ticket``, ``customer``, ``invoice``,
    ``paid_invoice``, ``delivery``, ``program``, ``project``, ``order``, ``blender``,
    ``kettle``, ``manager``, ``agent`` and
    ``system`` without building them first.
    """
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}", **_world()}
    for number, code in enumerate(_examples(page), start=1):
        try:
            exec(compile(code, f"{page.name}[example {number}]", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the assertion reports it
            pytest.fail(f"{page.name} example {number} failed: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if "```pycon" in p.read_text(encoding="utf-8")],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_console_examples_show_what_they_print(page: Path) -> None:
    """``>>>`` sessions (```pycon blocks) run as doctests: their output is checked too."""
    result = doctest.testfile(
        str(page), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.failed == 0
    assert result.attempted > 0


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs site, built once with ``mkdocs build --strict`` (warnings are errors)."""
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",  # not with --quiet: mkdocs 1.6 then drops the warnings uncounted
            "--site-dir",
            str(site_dir),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    output = result.stdout + result.stderr
    # An unresolved cross-reference, or a rule id without its rule, is a warning, so a
    # strict build fails on it.
    assert "WARNING" not in output, output
    assert "cross-reference" not in output, output
    assert result.returncode == 0, output
    return site_dir


def test_the_site_builds_with_warnings_as_errors(site: Path) -> None:
    assert (site / "reference" / "hookspecs" / "index.html").exists()
    assert (site / "rules" / "index.html").exists()


class _Text(HTMLParser):
    """The text of an HTML page, split into what is code (``<pre>``/``<code>``) and what is
    not, and the links around each piece of text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.prose: list[str] = []
        self.code: list[str] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.ids: set[str] = set()
        self._code = 0
        self._href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag in ("pre", "code"):
            self._code += 1
        elif tag == "a":
            self._href.append(found.get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("pre", "code"):
            self._code -= 1
        elif tag == "a" and self._href:
            self._href.pop()

    def handle_data(self, data: str) -> None:
        if self._code:
            self.code.append(data)
        elif self._href and self._href[-1] is not None:
            self.links.append((self._href[-1], data))
        else:
            self.prose.append(data)


def _page(path: Path) -> _Text:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _reference_pages(site: Path) -> list[Path]:
    pages = sorted((site / "reference").rglob("*.html"))
    assert len(pages) >= 2, pages
    return pages


REST_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|data|exc|attr|mod|obj|const):`")


def test_docstrings_are_markdown_not_rest() -> None:
    """Docstrings cross-reference in Markdown (``[`Name`][aftersales.module.Name]``), not
    with reST roles, which the reference would show literally."""
    left = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "src").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if REST_ROLE.search(line)
    ]
    assert not left, "\n".join(left)


def test_the_reference_shows_no_rest_and_no_unresolved_reference(site: Path) -> None:
    for path in _reference_pages(site):
        page = _page(path)
        prose = "".join(page.prose) + "".join(text for _, text in page.links)
        name = path.relative_to(site)
        assert not REST_ROLE.search(prose), (name, REST_ROLE.findall(prose))
        for role in (":class:", ":meth:", ":func:", ":data:", ":exc:", ":attr:", ":mod:"):
            assert role not in prose, (name, role)
        # an unresolved Markdown reference would stay as its brackets: [`Name`][path]
        assert not re.search(r"\]\[[\w.]*\]", prose), name
        # ``>>>`` examples are code blocks, never quoted prose
        assert ">>>" not in prose, name
        assert ">>>" in "".join(page.code) or "hookspecs" in str(name)


def test_the_reference_shows_annotated_signatures_and_sections(site: Path) -> None:
    page = _page(site / "reference" / "api" / "index.html")
    code = "".join(page.code)
    assert "quantities: Mapping[str, Decimal]" in code
    html = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    for section in ("Parameters:", "Returns:", "Raises:", "Examples:"):
        assert section in html, section
    # a cross-reference resolved to a link to its anchor
    assert 'href="#aftersales.errors.InvalidInput"' in html


#: A behaviour rule id, as the docs and docstrings cite them.
RULE_ID = re.compile(r"\b(?:G|ST|AC|RF|CP|RT|RP|FS|RL)-\d+[a-z]?\b")


def test_every_rule_id_cited_links_to_its_rule(site: Path) -> None:
    """Every rule id in the docs and in the rendered docstrings has its rule on the rules
    page, and links to it."""
    rules = _page(site / "rules" / "index.html")
    anchors = {i for i in rules.ids if re.fullmatch(r"[a-z]+-\d+[a-z]?", i)}
    assert len(anchors) > 80, sorted(anchors)
    cited: set[str] = set()
    for path in sorted(site.rglob("*.html")):
        if path.parent.name == "rules" or path.parent.name == "search":
            continue
        page = _page(path)
        name = path.relative_to(site)
        bare = RULE_ID.findall("".join(page.prose))
        assert not bare, (name, "rule ids that link nowhere", bare)
        for href, text in page.links:
            if href.startswith("#"):
                continue  # the page's own table of contents, naming a heading
            for rule in RULE_ID.findall(text):
                assert href.endswith(f"rules/#{rule.lower()}"), (name, rule, href)
                cited.add(rule.lower())
    for source in sorted((ROOT / "docs").rglob("*.md")):
        for rule in RULE_ID.findall(source.read_text(encoding="utf-8")):
            cited.add(rule.lower())
    assert cited, "the docs cite rules"
    assert cited <= anchors, sorted(cited - anchors)


def test_the_navigation_lists_every_page_once() -> None:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:\n") + 1 : text.index("\nmarkdown_extensions:")]
    pages = re.findall(r":\s*(\S+\.md)\s*$", nav, re.M)
    assert len(pages) == len(set(pages)), sorted(p for p in pages if pages.count(p) > 1)
    linked = set(re.findall(r"\]\(([\w/-]+\.md)\)", (ROOT / "docs" / "index.md").read_text()))
    assert set(pages) - {"index.md"} <= linked, "the home page links every page of the site"


#: The pages a newcomer meets first: the home page, the tutorial, one API reference page.
SCREENSHOTS = {
    "home": "index.html",
    "tutorial": "tutorial/index.html",
    "api-reference": "reference/api/index.html",
}


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.slow
def test_the_site_as_a_reader_sees_it(site: Path, tmp_path: Path) -> None:
    """Headless Chromium screenshots the pages a reader meets first; each shows a page
    (not a blank or single-colour image). The PNGs are kept outside the repository, in
    ``$CI_ARTIFACTS/site/`` (default ``/tmp/aftersales-artifacts/site/``)."""
    from PIL import Image

    chromium = _chromium()
    if chromium is None:
        if os.environ.get("AFTERSALES_REQUIRE_CHROMIUM"):
            pytest.fail("AFTERSALES_REQUIRE_CHROMIUM is set but chromium is not installed")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    artifacts = Path(os.environ.get("CI_ARTIFACTS") or "/tmp/aftersales-artifacts") / "site"
    artifacts.mkdir(parents=True, exist_ok=True)
    assert ROOT not in artifacts.resolve().parents, "screenshots stay outside the repository"
    for name, page in SCREENSHOTS.items():
        png = artifacts / f"{name}.png"
        png.unlink(missing_ok=True)
        result = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",  # CI runs as root
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=10000",  # let the theme's scripts lay the page out
                "--window-size=1280,1600",
                f"--screenshot={png}",
                (site / page).as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0 and png.exists(), result.stdout + result.stderr
        with Image.open(png) as image:
            assert image.size == (1280, 1600), image.size
            rgb = image.convert("RGB")
            colours = rgb.getcolors(maxcolors=1 << 16)
        # getcolors is None past 65536 colours: certainly not blank
        if colours is not None:
            background = max(count for count, _ in colours)
            drawn = 1 - background / (1280 * 1600)
            assert len(colours) > 16, (name, "a blank page", colours[:5])
            assert drawn > 0.02, (name, f"only {drawn:.1%} of the page differs from its background")


def _service_classes() -> list[type]:
    from aftersales.services.coupons import CouponService
    from aftersales.services.field_service import FieldServiceService
    from aftersales.services.idempotency import IdempotencyService
    from aftersales.services.imports import ImportService
    from aftersales.services.outbox import OutboxService
    from aftersales.services.refunds import RefundService
    from aftersales.services.repairs import RepairService
    from aftersales.services.returns import ReturnService
    from aftersales.services.tickets import TicketViewService
    from aftersales.settings import SettingsService
    from aftersales.subscription import SubscriptionService

    return [
        SettingsService,
        SubscriptionService,
        RefundService,
        CouponService,
        ReturnService,
        RepairService,
        FieldServiceService,
        TicketViewService,
        OutboxService,
        IdempotencyService,
        ImportService,
    ]


@pytest.mark.parametrize("service", _service_classes(), ids=lambda c: c.__name__)
def test_public_service_calls_document_their_parameters(service: type) -> None:
    """Every public call of ``app.<service>`` has Args (naming each parameter), Returns and
    Raises sections, which the reference renders as tables."""
    import inspect

    calls = [
        (name, member)
        for name, member in vars(service).items()
        if not name.startswith("_") and inspect.isfunction(member)
    ]
    assert calls
    for name, call in calls:
        doc = inspect.getdoc(call) or ""
        for section in ("Args:", "Returns:", "Raises:"):
            assert f"\n{section}\n" in doc, f"{service.__name__}.{name} has no {section}"
        args = doc.split("\nArgs:\n", 1)[1].split("\n\n", 1)[0]
        documented = set(re.findall(r"^    (\w+):", args, re.M))
        parameters = set(inspect.signature(call).parameters) - {"self"}
        assert documented == parameters, (f"{service.__name__}.{name}", documented, parameters)


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted((ROOT / "src" / "aftersales").rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = list(path.relative_to(ROOT / "src").with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join(parts))
    return names


@pytest.mark.parametrize("module", _modules_with_examples())
def test_docstring_examples_show_what_they_print(module: str) -> None:
    """The ``Examples:`` of the docstrings run as doctests: what the reference shows is what
    the code prints."""
    import importlib

    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(importlib.import_module(module))
    assert tests, module
    for test in tests:
        runner.run(test)
    assert runner.failures == 0, f"{module}: {runner.failures} failing example(s)"
