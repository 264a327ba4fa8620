"""Every adapter and executor declares its options once (:mod:`gp_autoloss.options`): checks, defaults, help,
the run's record, and one owner of an evaluation's time (the search's ``--time-limit``). Real CLI subprocesses
and real run files; no mmdet training, no Ray cluster."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from detectors_adapter.options import MMDetOptions
from gp_autoloss.errors import ConfigError
from gp_autoloss.execution.base import EXECUTORS, Executor, resolve_executor_options
from gp_autoloss.execution.local import LocalOptions
from gp_autoloss.execution.ray_options import RayOptions
from gp_autoloss.fitness import create_adapter
from gp_autoloss.fitness.base import resolve_adapter_options
from gp_autoloss.fitness.toy import ToyAdapter, ToyOptions
from gp_autoloss.options import DEFAULT_TIME_LIMIT, Options, option
from gp_autoloss.search.config import SearchConfig
from gp_autoloss.search.resume import resume_config
from tests.conftest import EXAMPLE_PLUGIN, REPO_ROOT, example_plugins, run_cli

_SEGMENTATION = bool(example_plugins())

#: every built-in declaration, with the spaces it is checked in (``None``: an executor's)
DECLARATIONS: list[tuple[type[Options], str | None]] = [
    *((ToyOptions, sp) for sp in ToyAdapter.spaces),
    *((MMDetOptions, sp) for sp in ("sigmoid_cls", "iou_reg")),
    (MMDetOptions, "softmax_cls"),
    (RayOptions, None),
    (LocalOptions, None),
]


def _mmdet_space_ok(cls: type[Options], space: str | None) -> dict[str, Any]:
    """Options that make ``cls`` valid in ``space`` (the default FCOS has no softmax_cls branch)."""
    return {"detector": "faster_rcnn_tiny"} if cls is MMDetOptions and space == "softmax_cls" else {}


def _one_line_exit_2(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


# ---- the contract, for every declaration --------------------------------------------------------------------
@pytest.mark.parametrize(("cls", "space"), DECLARATIONS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_every_declaration_records_what_parses_back_and_documents_every_option(cls, space):
    opts = cls.parse(_mmdet_space_ok(cls, space), owner="test", space=space)
    record = opts.record(space)
    assert json.loads(json.dumps(record)) == record  # plain JSON data
    assert cls.parse(record, owner="test", space=space) == opts  # the record round-trips
    help_text = "\n".join(cls.help_lines(space))
    for info in cls.infos():
        assert info.help, f"{cls.__name__}.{info.name} has no help text"
        if cls.applies(info.name, space):
            assert info.name.replace("_", "-" if cls.flag_prefix else "_") in help_text
    with pytest.raises(ConfigError) as bad:
        cls.parse({"zz_not_an_option": 1}, owner="owner 'x'", space=space)
    assert "\n" not in str(bad.value) and "unknown option(s) zz_not_an_option" in str(bad.value)


@pytest.mark.parametrize(
    ("cls", "space", "values", "words"),
    [
        (ToyOptions, "softmax_cls", {"stepz": 3}, "unknown option(s) stepz (did you mean steps?)"),
        (ToyOptions, "softmax_cls", {"steps": 0}, "steps must be a positive integer, not 0"),
        (ToyOptions, "softmax_cls", {"momentum": 1}, "momentum must be a number in [0, 1), not 1"),
        (ToyOptions, "softmax_cls", {"lr": "fast"}, "lr must be a positive number, not 'fast'"),
        (ToyOptions, "softmax_cls", {"train_size": 2.5}, "train_size must be a positive integer, not 2.5"),
        (ToyOptions, "iou_reg", {"num_classes": 3}, "num_classes do not apply to space 'iou_reg'"),
        (MMDetOptions, "sigmoid_cls", {"detector": "yolo"}, "detector must be one of 'fcos_tiny'"),
        (MMDetOptions, "sigmoid_cls", {"detector": "faster_rcnn_tiny"}, "has no sigmoid_cls branch"),
        (MMDetOptions, "sigmoid_cls", {"device": "tpu"}, "device must be 'cpu', 'cuda' or 'cuda:N', not 'tpu'"),
        (MMDetOptions, "sigmoid_cls", {"epochs": True}, "epochs must be a positive integer"),
        (MMDetOptions, "sigmoid_cls", {"cfg_options": [1]}, "cfg_options must be a mapping"),
        (MMDetOptions, "sigmoid_cls", {"lr": float("nan")}, "lr must be a positive number or None, not nan"),
        (RayOptions, None, {"num_cpus": -1}, "num_cpus (--ray-num-cpus) must be a number >= 0, not -1"),
        (RayOptions, None, {"address": "no-port"}, "address (--ray-address) must be local, auto, HOST:PORT"),
        (RayOptions, None, {"num_cpus": 0, "num_gpus": 0}, "a task needs num-cpus > 0 or num-gpus > 0"),
        (LocalOptions, None, {"workers": 2}, "unknown option(s) workers; known: none"),
    ],
)
def test_bad_values_are_one_line_errors_naming_the_option(cls, space, values, words):
    with pytest.raises(ConfigError) as info:
        cls.parse(values, owner="thing 'x'", space=space)
    message = str(info.value)
    assert "\n" not in message and message.startswith("thing 'x': ") and words in message, message


def test_ints_given_for_numbers_and_paths_given_for_text_are_recorded_as_json():
    opts = MMDetOptions.parse({"lr": 1, "data_root": REPO_ROOT}, owner="t", space="iou_reg")
    assert opts.lr == 1.0 and isinstance(opts.lr, float) and opts.data_root == str(REPO_ROOT)


def test_code_options_are_recorded_only_when_set():
    assert {"config", "cfg_options"} == set(MMDetOptions.code_options())
    assert {"address", "runtime_env"} == set(RayOptions.code_options())
    plain = MMDetOptions.parse({}, owner="t", space="iou_reg").record("iou_reg")
    assert "config" not in plain and "cfg_options" not in plain
    given = MMDetOptions.parse({"cfg_options": {"a.b": 1}}, owner="t", space="iou_reg").record("iou_reg")
    assert given["cfg_options"] == {"a.b": 1}
    assert "address" not in RayOptions.parse({}, owner="t").record()
    assert RayOptions.parse({"address": "auto"}, owner="t").record()["address"] == "auto"


# ---- adapters and executors read their declarations -------------------------------------------------------
def test_the_adapter_reads_its_options_and_records_them():
    adapter = create_adapter("toy", "sigmoid_cls", steps=7, lr=1)
    assert adapter.opts.steps == 7 and adapter.opts.lr == 1.0
    assert adapter.opts.pos_fraction == 0.02  # the space's default
    assert adapter.options == adapter.opts.record("sigmoid_cls")
    assert create_adapter("toy", "sigmoid_cls", **adapter.options).opts == adapter.opts
    assert adapter.describe() == {"adapter": "toy", "space": "sigmoid_cls", **adapter.options}


def test_an_executor_without_a_declaration_keeps_its_own_check(request):
    @dataclass(frozen=True)
    class _Declared(Options):
        depth: int = option(2, "how deep", ge=1)

    class _Legacy(Executor):
        name = "legacy_t"

        @classmethod
        def check_options(cls, options: dict[str, Any]) -> None:
            if "bad" in options:
                raise ConfigError("legacy_t: bad")

        def run(self, jobs):  # pragma: no cover
            return iter(())

    class _New(_Legacy):
        name = "declared_t"
        options_class = _Declared
        check_options = Executor.check_options

    for name, cls in (("legacy_t", _Legacy), ("declared_t", _New)):
        EXECUTORS.add(name, cls)
        request.addfinalizer(lambda n=name: EXECUTORS.remove(n))
    assert resolve_executor_options("legacy_t", {"anything": 1}) == {"anything": 1}
    with pytest.raises(ConfigError, match="legacy_t: bad"):
        resolve_executor_options("legacy_t", {"bad": 1})
    assert resolve_executor_options("declared_t", {}) == {"depth": 2}
    with pytest.raises(ConfigError, match=r"executor 'declared_t': unknown option\(s\) deep \(did you mean depth\?\)"):
        resolve_executor_options("declared_t", {"deep": 3})


# ---- one owner of an evaluation's time ---------------------------------------------------------------------
def test_the_searchs_time_limit_bounds_and_fills_the_adapters_time_options():
    config = SearchConfig(adapter="mmdet", space="sigmoid_cls", time_limit=120.0, plugins=[]).validate()
    assert config.adapter_options["time_limit"] == 120.0 and config.adapter_options["verify_time_limit"] == 120.0
    fitting = SearchConfig(adapter="mmdet", space="sigmoid_cls", time_limit=120.0,
                           adapter_options={"time_limit": 100, "verify_time_limit": 30}).validate()  # fmt: skip
    assert (fitting.adapter_options["time_limit"], fitting.adapter_options["verify_time_limit"]) == (100, 30)
    for key in ("time_limit", "verify_time_limit"):
        with pytest.raises(ConfigError) as info:
            SearchConfig(adapter="mmdet", space="sigmoid_cls", adapter_options={key: 900}).validate()
        message = str(info.value)
        assert "\n" not in message
        assert f"{key} of 900 s exceeds the search's time-limit of {DEFAULT_TIME_LIMIT:g} s" in message
    assert SearchConfig().time_limit == DEFAULT_TIME_LIMIT
    # outside a search nothing bounds them: the adapter falls back to the search's default itself
    assert MMDetOptions.parse({}, owner="t", space="iou_reg").time_limit is None


def test_cli_conflicting_time_limits_exit_2_and_create_nothing(tmp_path):
    out = tmp_path / "run"
    line = _one_line_exit_2(run_cli("search", "--space", "sigmoid_cls", "--adapter", "mmdet", "--adapter-option",
                                    "time_limit=900", "--time-limit", "600", "--out", str(out)))  # fmt: skip
    assert "time_limit of 900 s exceeds the search's time-limit of 600 s" in line and "--time-limit" in line
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--adapter", "toy", "--adapter-option", "steps=0"], "adapter 'toy': steps must be a positive integer"),
        (["--adapter", "toy", "--adapter-option", "stepz=3"], "stepz (did you mean steps?)"),
        (["--adapter", "mmdet", "--space", "sigmoid_cls", "--adapter-option", "epochs=-1"],
         "adapter 'mmdet': epochs must be a positive integer"),
        (["--adapter", "mmdet", "--space", "sigmoid_cls", "--detector", "faster_rcnn_tiny"],
         "has no sigmoid_cls branch"),
        (["--executor-option", "wrokers=2"], "executor 'local': unknown option(s) wrokers"),
        (["--executor", "ray", "--ray-num-cpus", "many"], "num_cpus (--ray-num-cpus) must be a number >= 0"),
    ],
)
def test_cli_bad_option_values_are_one_line_exit_2_and_create_nothing(tmp_path, args, words):
    if "ray" in args:
        pytest.importorskip("ray")
    out = tmp_path / "run"
    line = _one_line_exit_2(run_cli("search", *args, "--out", str(out)))
    assert words in line, line
    assert not out.exists()


# ---- --help lists the options -------------------------------------------------------------------------------
def test_search_help_lists_the_chosen_adapters_and_executors_options_without_importing_them(tmp_path):
    code = """
import contextlib, io, json, sys
from gp_autoloss.cli.main import main
out = {}
for args in (["--adapter", "mmdet", "--space", "sigmoid_cls"], ["--adapter", "toy", "--space", "iou_reg"],
             ["--executor", "ray"], []):
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        try:
            main(["search", *args, "--help"])
        except SystemExit as exc:
            code = exc.code
    out[" ".join(args)] = [code, " ".join(text.getvalue().split())]  # wrapping aside
out["imported"] = sorted({m.partition(".")[0] for m in sys.modules} & {"mmdet", "mmcv", "mmengine", "ray"})
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out.pop("imported") == []
    assert all(code in (0, None) for code, _ in out.values())
    mmdet = out["--adapter mmdet --space sigmoid_cls"][1]
    assert "usage: gp-autoloss search" in mmdet and "options of adapter 'mmdet'" in mmdet
    epochs = next(i for i in MMDetOptions.infos() if i.name == "epochs")  # whatever its default is today
    assert f"epochs: {epochs.type_name()} = {epochs.default!r}" in mmdet and "proxy task: training epochs" in mmdet
    assert "time_limit: float or None = None" in mmdet and "at most the search's --time-limit" in mmdet
    assert "cfg_options" in mmdet and "give it again on --resume" in mmdet
    toy = out["--adapter toy --space iou_reg"][1]
    assert "steps: int = 200" in toy and "verify_size: int = 64" in toy and "num_classes" not in toy
    ray = out["--executor ray"][1]
    assert "options of executor 'ray'" in ray and "--ray-num-cpus: float = 1.0" in ray
    plain = out[""][1]
    assert "options of adapter 'toy' for space 'softmax_cls'" in plain and "options of executor 'local'" in plain


@pytest.mark.skipif(not _SEGMENTATION, reason="the example plugin package is not installed")
def test_a_plugins_declared_options_are_listed_and_checked(tmp_path):
    ask = ["--plugin", EXAMPLE_PLUGIN]
    proc = run_cli("search", *ask, "--adapter", "seg_blobs", "--space", "bin_seg", "--executor", "inline", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "channels: int = 8" in proc.stdout and "fail_fast: bool = False" in proc.stdout
    line = _one_line_exit_2(run_cli("search", *ask, "--adapter", "seg_blobs", "--space", "bin_seg", "--adapter-option",
                                    "noise=-1", "--out", str(tmp_path / "r")))  # fmt: skip
    assert "adapter 'seg_blobs': noise must be a number >= 0, not -1" in line and not (tmp_path / "r").exists()


# ---- the run file's record ----------------------------------------------------------------------------------
def _stored_config(run_dir: Path) -> dict[str, Any]:
    con = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return json.loads(con.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
    finally:
        con.close()


def test_a_run_records_every_option_and_resumes_from_the_record(tmp_path):
    """The run file keeps the record (defaults filled in), which builds the same adapter and is what a resumed
    run continues with (the searches themselves run in test_run_file_safety and test_example_segmentation)."""
    from gp_autoloss.search import SearchEngine

    run = tmp_path / "run"
    config = SearchConfig(space="iou_reg", strategy="random", adapter_options={"steps": 3, "lr": 1}, time_limit=60.0)
    SearchEngine.create(config, run).close()
    stored = _stored_config(run)
    record = stored["adapter_options"]
    assert record == resolve_adapter_options("toy", "iou_reg", record)  # the record is its own record
    assert record["steps"] == 3 and record["lr"] == 1.0 and record["verify_size"] == 64 and "num_classes" not in record
    assert create_adapter("toy", "iou_reg", **record).options == record
    assert stored["executor_options"] == {}
    resumed = SearchEngine.open(run, overrides={"generations": 5, "adapter_options": {"steps": 3}})
    try:
        assert resumed.config.adapter_options == record and resumed.config.generations == 5
    finally:
        resumed.close()
    with pytest.raises(ConfigError, match=r"cannot change adapter option lr on --resume \(run has 1.0\)"):
        SearchEngine.open(run, overrides={"adapter_options": {"lr": 0.5}})


def test_resume_takes_no_code_option_from_a_record():
    base = SearchConfig(adapter="mmdet", space="sigmoid_cls").validate().to_dict()
    assert resume_config(base, {}, "run").adapter_options == base["adapter_options"]  # nothing set: nothing asked
    with_code = {**base, "adapter_options": {**base["adapter_options"], "cfg_options": {"model.x": 1}}}
    with pytest.raises(ConfigError, match=r"option cfg_options can run code .*--adapter-option cfg-options="):
        resume_config(with_code, {}, "run")
    given = {"adapter_options": {"cfg_options": {"model.x": 1}}}
    assert resume_config(with_code, given, "run").adapter_options["cfg_options"] == {"model.x": 1}
    pytest.importorskip("ray")
    ray_run = {**base, "executor": "ray", "executor_options": RayOptions.parse({"address": "auto"}, owner="t").record()}
    with pytest.raises(ConfigError, match=r"option address can run code .*--ray-address"):
        resume_config(ray_run, {}, "run")
    ray_default = {**base, "executor": "ray", "executor_options": RayOptions.parse({}, owner="t").record()}
    assert resume_config(ray_default, {}, "run").executor_options["num_cpus"] == 1.0
