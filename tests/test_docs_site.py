"""The built documentation site, checked as a reader gets it.

The site is built by the README's docs command (``.ci/run`` builds it, with warnings as errors, before the tests) and
found through ``REFLOSS_DOCS_HTML``; without that variable these tests skip. Two kinds of checks:

- on the HTML files: every public function has an API entry, every registered function's derivation page shows its
  plot, every local link and anchor resolves, and nothing is loaded from the network;
- in headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by Selenium), on pages served from
  localhost: the math has been typeset by MathJax with no TeX errors and no raw ``$$`` left, the plots have loaded,
  and the search page finds a loss by name. Screenshots of two pages are kept in ``REFLOSS_DOCS_ARTEFACTS``
  (default: ``screenshots/`` beside the site).
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import shutil
import threading
import urllib.parse
from pathlib import Path

import pytest

import refloss
from refloss import _registry

SITE = os.environ.get("REFLOSS_DOCS_HTML")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# What the headless browser must not do on a machine with no network (each would otherwise be refused, noisily).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,1800")
PAGE_TIMEOUT = 30  # seconds; MathJax typesets the longest page in about one


@pytest.fixture(scope="module")
def site() -> Path:
    if not SITE:
        pytest.skip("REFLOSS_DOCS_HTML is not set: build the site as the README says and point it there "
                    "(.ci/run does both)")
    root = Path(SITE).resolve()
    assert (root / "index.html").is_file(), f"REFLOSS_DOCS_HTML={SITE}: no index.html there; build the site first"
    return root


class _Page(html.parser.HTMLParser):
    """The links, images, scripts, stylesheets and element ids of one HTML file."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[dict[str, str]] = []
        self.loads: list[str] = []  # what the browser fetches by itself: scripts, stylesheets, images
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attributes = {key: value or "" for key, value in attrs}
        if "id" in attributes:
            self.ids.add(attributes["id"])
        if tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])
        if tag == "img":
            self.images.append(attributes)
            self.loads.append(attributes.get("src", ""))
        if tag == "script" and "src" in attributes:
            self.loads.append(attributes["src"])
        if tag == "link" and "stylesheet" in attributes.get("rel", ""):
            self.loads.append(attributes.get("href", ""))


@functools.cache
def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _html_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.html") if "_sources" not in p.parts)


def _derivation_html(root: Path, spec) -> Path:
    return root / Path(spec.derivation).relative_to("docs").with_suffix(".html")


def test_every_public_function_has_an_api_entry(site):
    ids = set().union(*(_parse(p).ids for p in (site / "api").glob("*.html")))
    public = [name for name in refloss.__all__ if callable(getattr(refloss, name))]
    missing = [name for name in public if f"refloss.{name}" not in ids]
    assert not missing, f"no API entry for {missing}"


def test_every_registered_function_has_its_derivation_page_and_plot(site):
    for name in _registry.names(None):
        page = _derivation_html(site, _registry.get(name))
        assert page.is_file(), f"{name}: no page {page.relative_to(site)} in the site"
        plots = [image for image in _parse(page).images if image.get("alt", "").startswith("plot of ")]
        shown = {shown for image in plots for shown in image["alt"][len("plot of "):].split(", ")}
        assert name in shown, f"{name}: no plot of it on {page.relative_to(site)}"


def _local(url: str) -> bool:
    return not urllib.parse.urlsplit(url).scheme and not url.startswith("//")


def test_local_links_and_anchors_resolve(site):
    broken = []
    for path in _html_files(site):
        for url in _parse(path).links + _parse(path).loads:
            if not url or not _local(url):
                continue
            parts = urllib.parse.urlsplit(url)
            target = (path.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(site)}: {url}")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in _parse(target).ids:
                broken.append(f"{path.relative_to(site)}: {url} (no such anchor)")
    assert not broken, "broken links:\n" + "\n".join(broken[:40])


def test_nothing_is_loaded_from_the_network(site):
    remote = [f"{path.relative_to(site)}: {url}" for path in _html_files(site) for url in _parse(path).loads
              if url and not _local(url)]
    assert not remote, "pages load from the network:\n" + "\n".join(remote[:20])
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file(), "MathJax is not served from the site"


# ---------------------------------------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the test's output is the assertions, not an access log
        pass


@pytest.fixture(scope="module")
def browser(site, tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the docs extra) is not installed")
    for program in (CHROMIUM, CHROMEDRIVER):
        assert shutil.which(program), f"{program} is missing: install Debian's chromium and chromium-driver " \
                                      "(.ci/run does) to check the built site in a browser"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # Selenium Manager would try to download a driver; the machine's own chromedriver matches its chromium.
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    driver.set_script_timeout(PAGE_TIMEOUT)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def artefacts(site) -> Path:
    folder = Path(os.environ.get("REFLOSS_DOCS_ARTEFACTS") or site.parent / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open_typeset(browser, url: str) -> None:
    """Open ``url`` and wait until MathJax has typeset the page (pages without math return at once)."""
    browser.get(url)
    browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        if (!window.MathJax) { done(true); return; }
        const ready = () => MathJax.startup && MathJax.startup.promise
            ? MathJax.startup.promise.then(() => done(true)) : setTimeout(ready, 50);
        ready();""")


_MATH_STATE = """
    const text = document.querySelector('article, [role=main], body').innerText;
    return {
        math: document.querySelectorAll('.math').length,
        typeset: document.querySelectorAll('mjx-container').length,
        errors: Array.from(document.querySelectorAll('mjx-merror'), e => e.getAttribute('data-mjx-error')),
        raw: ['$$', '\\\\[', '\\\\('].filter(delimiter => text.includes(delimiter)),
    };"""


def _math_pages(site: Path) -> list[Path]:
    return [p for p in _html_files(site) if 'class="math' in p.read_text(encoding="utf-8")]


def test_math_is_typeset_on_every_page(site, server, browser):
    pages = _math_pages(site)
    assert any(p.parent.name == "derivations" for p in pages), "no derivation page has math"
    problems = []
    for page in pages:
        _open_typeset(browser, f"{server}/{page.relative_to(site).as_posix()}")
        state = browser.execute_script(_MATH_STATE)
        if state["typeset"] < state["math"] or state["errors"] or state["raw"]:
            problems.append(f"{page.relative_to(site)}: {state}")
    assert not problems, "math not typeset:\n" + "\n".join(problems)


def test_derivation_page_plots_load(site, server, browser, artefacts):
    _open_typeset(browser, f"{server}/derivations/smooth_l1_loss.html")
    images = browser.execute_script("""
        return Array.from(document.images, i => ({src: i.src, alt: i.alt, loaded: i.complete && i.naturalWidth > 0}));
    """)
    plots = [image for image in images if image["alt"].startswith("plot of ")]
    assert plots, "no plot on the smooth_l1_loss page"
    assert all(image["loaded"] for image in images), [image["src"] for image in images if not image["loaded"]]
    assert browser.save_screenshot(str(artefacts / "derivation-smooth_l1_loss.png"))


def test_search_finds_a_loss_by_name(server, browser, artefacts):
    browser.get(f"{server}/search.html?q=huber_loss")
    results = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const poll = () => {
            const links = Array.from(document.querySelectorAll('#search-results li a'), a => a.href);
            links.length ? done(links) : setTimeout(poll, 100);
        };
        poll();""")
    assert any("derivations/huber_loss.html" in link for link in results), results
    assert browser.save_screenshot(str(artefacts / "search-huber_loss.png"))
