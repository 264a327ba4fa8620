"""A run file never runs code: resuming, reporting and exporting someone's run import only what this command
line (or an installed plugin package) names, and workers import what the driver imports, from where the
driver found it. Real processes, real SQLite."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gp_autoloss.execution.worker import import_plugins
from tests.conftest import REPO_ROOT, run_cli

ZEN = "Beautiful is better than ugly"
FAULTY = ["--adapter", "faulty", "--plugin", "tests.fault_plugin"]
SMALL = ["--space", "iou_reg", "--strategy", "vanilla", "--generations", "1", "--population", "4", "--parents", "2",
         "--top-k", "2", "--seed", "3", "--time-limit", "5", "-q"]  # fmt: skip


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished run made with the faulty test adapter (a plugin) and a code option (``config``)."""
    run_dir = tmp_path_factory.mktemp("runs") / "made"
    proc = run_cli("search", *SMALL, *FAULTY, "--adapter-option", "config=cfg.py", "--out", str(run_dir))
    assert proc.returncode == 0, proc.stderr
    return run_dir


def _copy(run: Path, tmp_path: Path, **config_changes) -> Path:
    """A copy of ``run`` whose stored config has ``config_changes`` (what a hostile run file could say)."""
    target = tmp_path / "copy"
    shutil.copytree(run, target, ignore=shutil.ignore_patterns("run.lock"))
    con = sqlite3.connect(target / "run.sqlite")
    config = json.loads(con.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
    config.update(config_changes)
    con.execute("UPDATE meta SET value=? WHERE key='config'", (json.dumps(config),))
    con.commit()
    con.close()
    return target


def _one_line_exit_2(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_run_file_plugins_are_never_imported(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path, plugins=["this", "tests.fault_plugin"])
    resumed = run_cli("search", "--out", str(run), "--resume", "--plugin", "tests.fault_plugin",
                      "--adapter-option", "config=cfg.py")  # fmt: skip
    assert ZEN not in resumed.stdout + resumed.stderr
    line = _one_line_exit_2(resumed)
    assert "needs plugin 'this'" in line and "--plugin this" in line
    for args in (["report", str(run)], ["report", str(run), "--json"], ["export", str(run)],
                 ["export", str(run), "--format", "json"]):  # fmt: skip
        proc = run_cli(*args, "--plugin", "tests.fault_plugin")
        assert proc.returncode == 0, (args, proc.stderr)
        assert ZEN not in proc.stdout + proc.stderr, args


def test_resume_needs_the_plugin_from_this_command(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path)
    line = _one_line_exit_2(run_cli("search", "--out", str(run), "--resume", "--adapter-option", "config=cfg.py"))
    assert "needs plugin 'tests.fault_plugin'" in line
    by_env = run_cli("search", "--out", str(run), "--resume", "--generations", "2", "--adapter-option", "config=cfg.py",
                     env={"GP_AUTOLOSS_PLUGINS": "tests.fault_plugin"})  # fmt: skip
    assert by_env.returncode == 0, by_env.stderr
    by_flag = run_cli("search", "--out", str(run), "--resume", "--plugin", "tests.fault_plugin",
                      "--adapter-option", "config=cfg.py")  # fmt: skip
    assert by_flag.returncode == 0, by_flag.stderr


def test_code_options_are_given_again_on_resume_never_taken_from_the_file(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path)
    base = ["search", "--out", str(run), "--resume", "--plugin", "tests.fault_plugin"]
    line = _one_line_exit_2(run_cli(*base))
    assert "option config can run code" in line and "--adapter-option config=" in line
    line = _one_line_exit_2(run_cli(*base, "--adapter-option", "config=other.py"))
    assert "cannot change adapter option config" in line
    assert run_cli(*base, "--adapter-option", "config=cfg.py").returncode == 0


def test_ray_address_and_runtime_env_come_from_the_command_line(finished_run, tmp_path):
    pytest.importorskip("ray")
    run = _copy(finished_run, tmp_path, executor="ray",
                executor_options={"address": "10.0.0.1:6379", "runtime_env": {"pip": ["evil"]}})  # fmt: skip
    base = ["search", "--out", str(run), "--resume", "--plugin", "tests.fault_plugin", "--adapter-option",
            "config=cfg.py"]  # fmt: skip
    line = _one_line_exit_2(run_cli(*base))
    assert "option address can run code" in line and "--ray-address" in line
    line = _one_line_exit_2(run_cli(*base, "--ray-address", "10.0.0.1:6379"))
    assert "option runtime_env can run code" in line and "--ray-runtime-env" in line
    line = _one_line_exit_2(run_cli(*base, "--ray-address", "auto", "--ray-runtime-env", '{"pip": ["evil"]}'))
    assert "cannot change executor option address" in line


def test_mmdet_config_files_are_code_options():
    from gp_autoloss.plugins import load_plugins
    from gp_autoloss.search.resume import adapter_code_options

    load_plugins()
    assert {"config", "cfg_options"} <= set(adapter_code_options("mmdet"))


def test_workers_do_not_import_modules_from_the_working_directory(tmp_path):
    """A ``./torch.py`` where the user runs an ordinary search must not run inside the workers."""
    if sys.version_info < (3, 11):
        pytest.skip("python -P (no working directory on sys.path for the driver) needs Python 3.11")
    marker = tmp_path / "shadow-ran"
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "torch.py").write_text(f"open({str(marker)!r}, 'w').write('imported')\n")
    proc = subprocess.run([sys.executable, "-P", "-m", "gp_autoloss.cli.main", "search", *SMALL, *FAULTY,
                           "--out", str(tmp_path / "run")], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": _pythonpath()})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), "a module in the working directory ran inside a worker"


def test_worker_refuses_a_plugin_found_elsewhere_than_the_drivers():
    with pytest.raises(ImportError, match="in the worker but to /elsewhere/fault_plugin.py in the driver"):
        import_plugins(["tests.fault_plugin"], {"tests.fault_plugin": "/elsewhere/fault_plugin.py"})


def _pythonpath() -> str:
    """The repository (for ``tests.fault_plugin``) after whatever PYTHONPATH the test run has."""
    return os.pathsep.join(p for p in [os.environ.get("PYTHONPATH", ""), str(REPO_ROOT)] if p)
