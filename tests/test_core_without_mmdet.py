"""The core runs and tests with the detection extras absent, and never names its plugins.

The extras are made absent for real in a subprocess: an import hook that refuses ``mmdet``, ``mmcv``,
``mmengine``, ``cv2`` and ``pycocotools`` as an environment without them would.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

CORE = ("gp_autoloss", "primitives")
PLUGIN_MODULES = ("detectors_adapter", "mmdet", "mmcv", "mmengine")
EXTRAS = ("mmdet", "mmcv", "mmengine", "cv2", "pycocotools")

WITHOUT_EXTRAS = f"""
import importlib.abc, importlib.util, sys
def _absent(name):
    return str(name).partition('.')[0] in {EXTRAS!r}
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if _absent(name):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, _Absent())
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: None if _absent(name) else _find_spec(name, package)
"""


def _python(code: str, tmp_path: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT_EXTRAS + code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=timeout, env=_env())  # fmt: skip


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in [str(REPO_ROOT), os.environ.get("PYTHONPATH")] if p)}


def _strings_and_imports(path: Path) -> list[tuple[int, str, bool]]:
    """Imported module names (``True``) and string constants (``False``) of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, True) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module, True))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append((node.lineno, node.value, False))
    return found


def test_core_code_never_names_the_detection_plugin_or_imports_mmdet():
    offenders = []
    for package in CORE:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            for line, text, imported in _strings_and_imports(path):
                if "detectors_adapter" in text or (imported and text.partition(".")[0] in PLUGIN_MODULES):
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{line}: {text[:80]!r}")
    assert not offenders, "\n".join(offenders)


def test_every_command_works_with_the_detection_extras_absent(tmp_path):
    code = """
import contextlib, io, json
from gp_autoloss.cli.main import main
rcs = {}
def run(name, *args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rcs[name] = [main(list(args)), out.getvalue(), err.getvalue()]
run("show", "show", "fli")
run("check", "check", "cse_b_reg")
run("render", "render", "cse_a_cls", "-o", "a.dot")
run("search", "search", "--space", "softmax_cls", "--strategy", "cse", "--adapter", "faulty", "--plugin",
    "tests.fault_plugin", "--generations", "1", "--population", "4", "--top-k", "2", "--parents", "2", "--seed", "0",
    "--time-limit", "5", "-q", "--out", "run")
run("report", "report", "run", "--html", "--plugin", "tests.fault_plugin")
run("export", "export", "run", "--format", "json")
run("export mmdet", "export", "run", "--format", "mmdet")
run("search mmdet", "search", "--space", "sigmoid_cls", "--adapter", "mmdet", "--out", "run_mmdet")
print(json.dumps({"rcs": rcs, "imported": sorted(m for m in sys.modules if m.partition(".")[0] in EXTRAS)}))
""".replace("EXTRAS", repr(EXTRAS))
    proc = _python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    rcs = result["rcs"]
    for name in ("show", "check", "render", "search", "report", "export"):
        assert rcs[name][0] == 0, (name, rcs[name])
    assert rcs["export mmdet"][0] == 0 and "type='GPLoss'" in rcs["export mmdet"][1]  # the plugin is plain text
    code_mmdet, _, err = rcs["search mmdet"]
    assert code_mmdet == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "run_mmdet").exists()
    assert result["imported"] == []


def test_importing_gp_autoloss_and_loading_every_plugin_imports_no_detection_package(tmp_path):
    code = """
import gp_autoloss, gp_autoloss.cli.main, gp_autoloss.search, gp_autoloss.reporting
from gp_autoloss.plugins import load_plugins
print(load_plugins())
print(sorted(m for m in sys.modules if m.partition(".")[0] in ("mmdet", "mmcv", "mmengine")))
"""
    proc = subprocess.run([sys.executable, "-c", "import sys\n" + code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=_env())  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    plugins, imported = proc.stdout.strip().splitlines()[-2:]
    assert "detectors_adapter.plugin" in plugins  # this package's own entry point
    assert imported == "[]"


def test_fast_suite_collects_with_the_detection_extras_absent(tmp_path):
    """``make test-fast`` (``-m "not slow and not mmdet"``) on a core-only install: every test module imports."""
    code = f"""
import pytest
sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "-m", "not slow and not mmdet",
                      "--rootdir", {str(REPO_ROOT)!r}, {str(REPO_ROOT / "tests")!r}]))
"""
    proc = _python(code, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "error" not in proc.stdout.lower().split("collected")[-1], proc.stdout[-3000:]
