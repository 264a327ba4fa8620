"""A user's plugin works beside the project's example plugin, whose names it shares.

The user's plugin (``tests/user_plugins/segplug``) registers the primitive ``square``, the space ``bin_seg`` and
the adapter ``seg_blobs``, as the example plugin ``gpa_segmentation`` does. In the environment that ``make``
builds, the example is installed but inactive, so every command works with ``--plugin segplug``. Where the
example is an active installed plugin (an entry point, as a package of the user's might be), the named plugin
wins and the installed one is skipped with a one-line note; where the user names both, one line names both and
the name, exit 2, nothing created. Every command is a subprocess of the real CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_PLUGIN, REPO_ROOT, example_plugins, run_cli

USER_PLUGINS = REPO_ROOT / "tests" / "user_plugins"
USER = ["--plugin", "segplug"]
SPACE = ["--space", "bin_seg"]
SEARCH = ["search", *USER, *SPACE, "--adapter", "seg_blobs", "--population", "5", "--parents", "2", "--top-k", "2",
          "--seed", "2", "--time-limit", "120", "-q"]  # fmt: skip
TIMEOUT = 600


def _env(*paths: Path) -> dict[str, str]:
    """The user's plugin folder (and ``paths``) on ``PYTHONPATH``; no plugin asked for by the environment."""
    parts = [str(p) for p in (*paths, USER_PLUGINS)] + [os.environ.get("PYTHONPATH", ""), str(REPO_ROOT)]
    return {"PYTHONPATH": os.pathsep.join(p for p in parts if p), "GP_AUTOLOSS_PLUGINS": ""}


def cli(*args: str, site: Path | None = None):
    return run_cli(*args, env=_env(*([site] if site else [])), timeout=TIMEOUT)


def _ok(proc) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _one_line(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def _entry_point(site: Path, module: str, name: str, dist: str) -> None:
    """Declare ``module`` an installed plugin (a ``.dist-info`` with an entry point) in folder ``site``."""
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[gp_autoloss.plugins]\n{name} = {module}\n")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A tiny run of the user's plugin per strategy; the vanilla one is resumed below."""
    root = tmp_path_factory.mktemp("segplug_runs")
    out = {}
    for strategy in ("random", "vanilla", "cse"):
        out[strategy] = root / strategy
        _ok(cli(*SEARCH, "--strategy", strategy, "--generations", "1", "--out", str(out[strategy])))
    return out


def test_show_check_render_know_the_users_names(tmp_path):
    shown = _ok(cli("show", "square(x - g)", *SPACE, *USER))
    assert "space:  bin_seg" in shown and "square(sub(x, g))" in shown
    assert "softplus(x) - g * x" in _ok(cli("show", "bce_pixels", *USER))  # its known loss
    verdict = json.loads(_ok(cli("check", "bce_pixels", "--json", *USER)))
    assert verdict["passed"] is True
    assert cli("check", "square(g) + 1", *SPACE, *USER).returncode == 1  # does not depend on the prediction
    dot = tmp_path / "sq.dot"
    _ok(cli("render", "square(sigmoid(x) - g)", *SPACE, "-o", str(dot), *USER))
    assert "square" in dot.read_text()


@pytest.mark.parametrize("strategy", ["random", "vanilla", "cse"])
def test_search_with_each_strategy_on_the_users_adapter(runs, strategy):
    report = json.loads(_ok(cli("report", str(runs[strategy]), "--json", *USER)))
    assert report["config"]["adapter"] == "seg_blobs" and report["config"]["plugins"] == ["segplug"]
    assert EXAMPLE_PLUGIN not in report["config"]["plugins"]
    scored = [c for c in report["leaderboard"] if c.get("proxy_metric") is not None]
    assert scored and all(0.0 <= c["proxy_metric"] <= 1.0 for c in scored)


def test_resume_report_and_export(runs, tmp_path):
    run = str(runs["vanilla"])
    _ok(cli("search", "--out", run, "--resume", "--generations", "2", "-q", *USER))
    assert len(json.loads(_ok(cli("report", run, "--json", *USER)))["generations"]) == 2
    page = tmp_path / "report.html"
    _ok(cli("report", run, "--html", str(page), "--output-dir", str(tmp_path), *USER))
    assert '<details class="dag"' in page.read_text()
    text = _ok(cli("export", run, *USER)).strip()
    assert f"infix:  {text}" in _ok(cli("show", text, *SPACE, *USER))


def test_the_named_plugin_wins_over_an_installed_one_with_the_same_names(tmp_path):
    """The example as an active installed plugin (entry point): a command naming the user's plugin uses the
    user's ``square`` and ``seg_blobs`` and says, in one note, which installed plugin it skipped and why."""
    if not example_plugins():
        pytest.skip("the example plugin package is not installed (make setup-core installs it)")
    site = tmp_path / "site"
    _entry_point(site, EXAMPLE_PLUGIN, "segmentation", "gpa-segmentation-active")
    proc = cli("show", "bce_pixels", *USER, site=site)
    assert "softplus(x) - g * x" in _ok(proc)
    notes = proc.stderr.strip().splitlines()
    assert len(notes) == 1, proc.stderr
    assert notes[0] == (f"gp-autoloss: note: installed plugin {EXAMPLE_PLUGIN!r} (entry point 'segmentation' of "
                        "gpa-segmentation-active) not loaded: primitive 'square' is already registered by plugin "
                        "'segplug' (--plugin)")  # fmt: skip
    run = tmp_path / "run"
    _ok(cli(*SEARCH, "--strategy", "random", "--generations", "1", "--out", str(run), site=site))
    assert json.loads(_ok(cli("report", str(run), "--json", *USER, site=site)))["config"]["plugins"] == ["segplug"]
    # without the user's plugin, the installed one loads as before, and no note
    alone = cli("show", "bce_seg", site=site)
    assert "softplus(x) - g * x" in _ok(alone) and alone.stderr == ""


def test_two_named_plugins_with_one_name_are_one_line(tmp_path):
    if not example_plugins():
        pytest.skip("the example plugin package is not installed (make setup-core installs it)")
    both = [*USER, "--plugin", EXAMPLE_PLUGIN]
    line = _one_line(cli("show", "square(x)", *SPACE, *both))
    assert line == ("gp-autoloss: error: plugin 'gpa_segmentation' (--plugin) and plugin 'segplug' (--plugin) both "
                    "register primitive 'square'; load only one of them, or rename it in one")  # fmt: skip
    run = tmp_path / "never"
    assert "both register primitive 'square'" in _one_line(cli(*SEARCH, *both, "--out", str(run)))
    assert not run.exists()


def test_two_installed_plugins_with_one_name_load_the_first_and_note_the_other(tmp_path):
    if not example_plugins():
        pytest.skip("the example plugin package is not installed (make setup-core installs it)")
    site = tmp_path / "site"
    _entry_point(site, EXAMPLE_PLUGIN, "segmentation", "gpa-segmentation-active")
    _entry_point(site, "segplug", "segplug", "segplug")
    proc = cli("show", "bce_seg", site=site)  # entry points load in module order: gpa_segmentation first
    assert "softplus(x) - g * x" in _ok(proc)
    assert proc.stderr.strip() == ("gp-autoloss: note: installed plugin 'segplug' (entry point 'segplug' of "
                                   "segplug) not loaded: primitive 'square' is already registered by plugin "
                                   "'gpa_segmentation' (entry point 'segmentation' of gpa-segmentation-active)")


def test_a_failed_plugin_registers_nothing(tmp_path):
    """A plugin that registers, then fails, leaves no entry behind: importing it again fails the same way
    (not with "already registered"), and the names stay free for another plugin. In a fresh interpreter, so
    this session's registries and loaded plugins stay as they are."""
    (tmp_path / "gpa_half_plugin.py").write_text(
        "from primitives import UNARY, register_primitive\n"
        "register_primitive('half_hp', lambda a: a / 2, UNARY)\n"
        "raise RuntimeError('half-way')\n")  # fmt: skip
    (tmp_path / "gpa_other_half.py").write_text(
        "from primitives import UNARY, register_primitive\n"
        "register_primitive('half_hp', lambda a: 0.5 * a, UNARY)\n")  # fmt: skip
    script = (
        "import sys\n"
        "from gp_autoloss.plugins import PluginError, import_plugin\n"
        "from primitives import PRIMITIVES\n"
        "for _ in range(2):\n"
        "    try:\n"
        "        import_plugin('gpa_half_plugin')\n"
        "    except PluginError as exc:\n"
        "        print(exc)\n"
        "    print('half_hp' in PRIMITIVES, 'gpa_half_plugin' in sys.modules)\n"
        "import_plugin('gpa_other_half')\n"
        "print(PRIMITIVES.origin('half_hp'))\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT, env={**os.environ, **_env(tmp_path)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    failure = "cannot import plugin 'gpa_half_plugin' (--plugin): RuntimeError: half-way"
    assert lines == [failure, "False False", failure, "False False", "gpa_other_half"]
