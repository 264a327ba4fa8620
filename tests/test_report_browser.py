"""Report pages opened in a real headless Chromium (Debian ``chromium``, installed by ``make test``).

The runs are the real toy searches of ``test_report_html.report_runs``, made once per session. Without a
Chromium binary these tests skip, unless ``GP_AUTOLOSS_REQUIRE_CHROMIUM=1`` (as ``make test`` sets it), where
a missing browser is a failure.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from gp_autoloss.reporting import load_run, write_html
from gp_autoloss.reporting.browser import REPORT_READY, BrowserError, find_chromium, load_page
from tests.conftest import run_cli
from tests.test_report_html import report_runs

REQUIRED = os.environ.get("GP_AUTOLOSS_REQUIRE_CHROMIUM") == "1"
if find_chromium() is None and not REQUIRED:
    pytest.skip("no headless Chromium (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(autouse=True)
def chromium_present() -> None:
    """With ``GP_AUTOLOSS_REQUIRE_CHROMIUM=1`` a missing browser fails each test here (the rest still run)."""
    if find_chromium() is None:
        pytest.fail("GP_AUTOLOSS_REQUIRE_CHROMIUM=1 but no chromium binary is on PATH")

#: facts read from the DOM after the page's scripts ran
DOM_FACTS = [
    "document.documentElement.getAttribute('data-js-errors')",
    "document.querySelectorAll('#leaderboard table.leaderboard tr').length",
    "document.querySelectorAll('#leaderboard details.dag svg').length",
    "document.querySelectorAll('#funnel table.funnel tr').length",
    "document.querySelectorAll('#progress svg.chart path.line').length",
    "document.querySelectorAll('#evolution svg.chart g.points').length",
    "Array.from(document.querySelectorAll('section')).map(s => s.id)",
]


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    return report_runs(tmp_path_factory.getbasetemp() / "report_runs")


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", head[16:24])


def _open(runs: list[Path], out: Path, **kwargs):
    page = write_html([load_run(r) for r in runs], out)
    return load_page(page, ready_expression=REPORT_READY, evaluate=DOM_FACTS, **kwargs)


def test_single_run_page_loads_clean_and_shows_everything(runs, tmp_path):
    shot = tmp_path / "report.png"
    seen = _open([runs["cse"]], tmp_path / "cse.html", screenshot=shot)
    js_errors, leader_rows, dags, funnel_rows, lines, scatters, sections = seen.values
    assert seen.errors == [] and js_errors is None
    assert seen.title.startswith("gp-autoloss report")
    for sid in ("overview", "progress", "evolution", "funnel", "leaderboard", "failures", "latest", "config"):
        assert sid in sections
    evaluated = sum(1 for c in load_run(runs["cse"]).candidates if c.get("proxy_ok"))
    assert leader_rows == min(10, evaluated) + 1 and dags == min(10, evaluated)
    assert funnel_rows >= 3 and lines == 2 and scatters == 1  # header + 2 generations; 2 progress charts
    width, height = _png_size(shot)
    assert width == 1280 and height > 900  # the full page, longer than one screen


def test_comparison_page_loads_clean(runs, tmp_path):
    names = ("random", "vanilla", "cse")
    seen = _open([runs[n] for n in names], tmp_path / "compare.html")
    js_errors, _, _, _, lines, scatters, _ = seen.values
    assert seen.errors == [] and js_errors is None
    assert lines == 2 * len(names) and scatters == len(names)


@pytest.mark.parametrize("name", ["empty", "killed", "faulty", "hostile"])
def test_odd_runs_render_in_the_browser(runs, tmp_path, name):
    seen = _open([runs[name]], tmp_path / f"{name}.html")
    assert seen.errors == [], seen.errors  # hostile text runs no script: no alert() dialog, no error
    assert seen.values[0] is None


def test_cli_screenshot(runs, tmp_path):
    page, shot = tmp_path / "page.html", tmp_path / "page.png"
    plugin = ("--plugin", "tests.fault_plugin")  # the faulty run's adapter: loaded, the report has nothing to note
    proc = run_cli("report", str(runs["faulty"]), "--html", str(page), "--screenshot", str(shot), *plugin)
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {shot}" in proc.stdout and _png_size(shot)[0] == 1280
    for bad in (["--screenshot", str(tmp_path)], ["--screenshot", str(tmp_path / "no" / "x.png")],
                ["--screenshot-height", "100"]):  # a directory, a missing directory, no --screenshot
        proc = run_cli("report", str(runs["faulty"]), "--html", str(page), *bad, *plugin)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, (bad, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_a_page_with_a_script_error_is_caught(tmp_path):
    """The browser check can fail: a page that throws, logs an error and misses an image is reported."""
    bad = tmp_path / "bad.html"
    bad.write_text("<title>t</title><script>console.error('logged'); undefinedFunction();</script>"
                   "<img src='missing.png'>")  # fmt: skip
    seen = load_page(bad)
    assert len(seen.errors) == 3, seen.errors
    assert any("undefinedFunction" in e for e in seen.errors) and any("logged" in e for e in seen.errors)
    with pytest.raises(BrowserError, match="no page"):
        load_page(tmp_path / "missing.html")
    with pytest.raises(BrowserError, match="did not get ready"):
        load_page(bad, ready_expression="false", timeout=3)
