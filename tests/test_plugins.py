"""Plugins reach every command: an installed package's entry point, ``GP_AUTOLOSS_PLUGINS`` and ``--plugin``.

The plugin under test is written into a temporary directory and used only in subprocesses (real CLI, real
import machinery, real package metadata), so this test session's registries stay as they are.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, run_cli

PLUGIN = "gpa_cube_plugin"
PLUGIN_SOURCE = '''"""A tiny task plugin: a primitive, a space, its initial loss."""
from gp_autoloss import register_known_loss
from primitives import UNARY, Input, Scalar, SearchSpace, register_primitive, register_space

register_primitive("cube_tp", lambda a: a * a * a, UNARY, doc="a^3")
register_space(SearchSpace(
    name="reg_tp", inputs=(Input("p", Scalar, "prediction"), Input("t", Scalar, "target")), output=Scalar,
    primitives=("add", "sub", "mul", "cube_tp"), initial_loss="l_tp"))
register_known_loss("l_tp", "reg_tp", "cube_tp(p - t) * (p - t)")
'''
FORMULA = ["cube_tp(p - t) * (p - t) + (p - t) * (p - t)", "--space", "reg_tp"]


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    """A directory holding the plugin module, a broken plugin, and an installed package that declares the
    plugin as an entry point (its ``.dist-info``), but not on any path yet."""
    d = tmp_path / "site"
    d.mkdir()
    (d / f"{PLUGIN}.py").write_text(PLUGIN_SOURCE)
    (d / "gpa_broken_plugin.py").write_text("raise RuntimeError('plugin exploded on import')\n")
    return d


def _env(*paths: Path, plugins: str | None = None) -> dict[str, str]:
    parts = [str(p) for p in paths] + [os.environ.get("PYTHONPATH", ""), str(REPO_ROOT)]
    env = {"PYTHONPATH": os.pathsep.join(p for p in parts if p)}
    if plugins is not None:
        env["GP_AUTOLOSS_PLUGINS"] = plugins
    return env


def _install_entry_point(site: Path, module: str, dist: str = "gpa-cube") -> None:
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[gp_autoloss.plugins]\ncube = {module}\n")


def _ok(proc) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _one_line(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_plugin_flag_reaches_show_check_and_render(plugin_dir, tmp_path):
    env = _env(plugin_dir)
    assert "unknown space 'reg_tp'" in _one_line(run_cli("show", *FORMULA, env=env))
    assert "space:  reg_tp" in _ok(run_cli("show", *FORMULA, "--plugin", PLUGIN, env=env))
    assert "space:  reg_tp" in _ok(run_cli("--plugin", PLUGIN, "show", *FORMULA, env=env))  # before the command
    check = run_cli("check", *FORMULA, "--plugin", PLUGIN, env=env)
    assert check.returncode in (0, 1) and "formula: cube_tp(p - t) * (p - t)" in check.stdout, check.stderr
    out = tmp_path / "cube.dot"
    assert "wrote" in _ok(run_cli("render", *FORMULA, "-o", str(out), "--plugin", PLUGIN, env=env))
    assert "cube_tp" in out.read_text()


def test_environment_variable_and_entry_point_load_plugins(plugin_dir):
    assert "space:  reg_tp" in _ok(run_cli("show", *FORMULA, env=_env(plugin_dir, plugins=f" {PLUGIN} ,")))
    _install_entry_point(plugin_dir, PLUGIN)
    assert "space:  reg_tp" in _ok(run_cli("show", *FORMULA, env=_env(plugin_dir)))
    assert "infix:  cube_tp(p - t) * (p - t)" in _ok(run_cli("show", "l_tp", env=_env(plugin_dir)))


@pytest.mark.parametrize(("how", "expected"), [
    ("flag", "cannot import plugin 'gpa_broken_plugin' (--plugin): RuntimeError: plugin exploded on import"),
    ("env", "cannot import plugin 'gpa_broken_plugin' (GP_AUTOLOSS_PLUGINS): RuntimeError: plugin exploded"),
    ("entry point", "cannot import plugin 'gpa_broken_plugin' (entry point 'cube' of gpa-broken): RuntimeError"),
    ("missing", "cannot import plugin 'gpa_no_such_module' (--plugin): ModuleNotFoundError"),
    ("not a module name", "plugin '../evil' (--plugin) is not a module name"),
])
def test_a_plugin_that_fails_to_import_is_one_line_and_exit_2(plugin_dir, how, expected):
    args, env = ["show", "fli"], _env(plugin_dir)
    if how == "flag":
        args += ["--plugin", "gpa_broken_plugin"]
    elif how == "env":
        env = _env(plugin_dir, plugins="gpa_broken_plugin")
    elif how == "entry point":
        _install_entry_point(plugin_dir, "gpa_broken_plugin", dist="gpa-broken")
    elif how == "missing":
        args += ["--plugin", "gpa_no_such_module"]
    else:
        args += ["--plugin", "../evil"]
    assert expected in _one_line(run_cli(*args, env=env))


def test_report_without_the_runs_plugin_renders_every_section_and_says_which_plugin_once(plugin_dir, tmp_path):
    run = tmp_path / "run"
    env = _env(plugin_dir)
    _ok(run_cli("search", "--space", "reg_tp", "--strategy", "random", "--adapter", "faulty", "--plugin",
                "tests.fault_plugin", "--plugin", PLUGIN, "--generations", "1", "--population", "6", "--seed", "1",
                "--time-limit", "5", "-q", "--out", str(run), env=env))  # fmt: skip
    full = tmp_path / "with.html"
    _ok(run_cli("report", str(run), "--html", str(full), "--plugin", "tests.fault_plugin", "--plugin", PLUGIN, env=env))
    drawn = full.read_text().count('<details class="dag"')
    assert drawn > 0 and "dag-note" not in full.read_text()

    partial = tmp_path / "without.html"
    proc = run_cli("report", str(run), "--html", str(partial), "--plugin", "tests.fault_plugin", env=env)
    _ok(proc)
    page = partial.read_text()
    for section in ("overview", "progress", "evolution", "funnel", "leaderboard", "failures", "latest", "config"):
        assert f'<section id="{section}">' in page, section
    assert page.count('<details class="dag"') == 0
    notes = re.findall(r'<p class="note dag-note">([^<]*)</p>', page)
    assert len(notes) == 1 and f"{drawn} loss DAGs not drawn" in notes[0] and f"--plugin {PLUGIN}" in notes[0]
    assert proc.stderr.count(PLUGIN) == 2 and proc.stderr.count("note:") == 1  # one note: names it, says the flag

    text = run_cli("report", str(run), "--plugin", "tests.fault_plugin", env=env)
    assert "top 10 losses" in _ok(text) and text.stderr.count("note:") == 1
    assert _ok(run_cli("export", str(run), "--plugin", "tests.fault_plugin", env=env)).strip()
    line = _one_line(run_cli("export", str(run), "--format", "mmdet", "--plugin", "tests.fault_plugin", env=env))
    assert "export format 'mmdet' does not apply to space 'reg_tp'" in line


def test_a_run_records_the_plugins_that_registered_what_it_uses(plugin_dir):
    """Attribution is by registering code: core modules first imported while a plugin loads stay the core's."""
    import subprocess
    import sys

    code = f"""
from gp_autoloss.plugins import load_plugins, plugins_used_by
load_plugins([{PLUGIN!r}, "tests.fault_plugin"])
print(plugins_used_by("softmax_cls", "toy", "cse", "local"))
print(plugins_used_by("sigmoid_cls", "mmdet", "vanilla", "local"))
print(plugins_used_by("reg_tp", "faulty", "random", "local"))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **_env(plugin_dir)}, cwd=REPO_ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:3] == ["[]", "['detectors_adapter.plugin']", f"['{PLUGIN}', 'tests.fault_plugin']"]
