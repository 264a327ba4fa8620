"""Bad input: one line, exit 2, nothing left behind (issue 13.4), through the real ``main``.

Settings are validated (types, finiteness, ranges, the initial loss) before the run directory exists; formulas
that start with ``-`` work as users type them; one depth limit holds for the parser, ``Loss`` and the options.
"""

from __future__ import annotations

import math

import pytest
from deap import gp

from gp_autoloss import FormulaError, Loss, parse
from gp_autoloss.cli.dash_formulas import protect_formulas
from gp_autoloss.cli.main import EXIT_BAD_INPUT, build_parser, main
from gp_autoloss.errors import ConfigError
from gp_autoloss.limits import MAX_DEPTH
from gp_autoloss.search import SearchConfig


def _one_line_exit_2(rc: int, err: str) -> str:
    assert rc == EXIT_BAD_INPUT, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('time_limit = "abc"', "time-limit must be a number"),
        ('memory_limit_mb = "abc"', "memory-limit-mb must be an integer"),
        ('adapter_options = ["a"]', "adapter-options must be a table"),
        ('verify_margin = "abc"', "verify-margin must be a finite number"),
        ("verify_margin = nan", "verify-margin must be a finite number"),
        ("verify_margin = inf", "verify-margin must be a finite number"),
        ("time_limit = inf", "time-limit must be a number"),
        ("p_mutation = nan", "p-mutation must be a number in [0, 1]"),
        ('plugins = "os"', "plugins must be a list of module names"),
        ('plugin = ["x"]', "plugin (did you mean plugins?)"),
        ('executor_options = "x"', "executor-options must be a table"),
        ("generations = true", "generations must be a positive integer"),
        ("max_depth = 100000", f"max-depth must be at most {MAX_DEPTH}"),
        ('space = 3', "space must be a name"),
        ("initial_formula = 3", "initial-formula must be a formula"),
    ],
)
def test_config_file_fields_are_validated_before_the_run_exists(toml, words, tmp_path, capsys):
    cfg = tmp_path / "search.toml"
    cfg.write_text(toml + "\n")
    out = tmp_path / "run"
    line = _one_line_exit_2(main(["search", "--config", str(cfg), "--out", str(out), "-q"]), capsys.readouterr().err)
    assert words in line
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--initial", "garbage("], "initial loss: expected a value"),
        (["--initial", "ce"], "known loss 'ce' is a loss of space 'softmax_cls', not 'iou_reg'"),
        (["--max-depth", "100000"], f"max-depth must be at most {MAX_DEPTH}"),
        (["--verify-margin", "nan"], "verify-margin must be a finite number"),
        (["--time-limit", "inf"], "time-limit must be a number"),
    ],
)
def test_bad_settings_leave_nothing_behind(argv, words, tmp_path, capsys):
    out = tmp_path / "r4"
    rc = main(["search", "--space", "iou_reg", "--out", str(out), "-q", *argv])
    assert words in _one_line_exit_2(rc, capsys.readouterr().err)
    assert not out.exists()  # the corrected command must not find "r4 already holds a run"


def test_empty_out_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _one_line_exit_2(main(["search", "--out", "", "-q"]), capsys.readouterr().err)
    assert "--out must name a run directory" in line
    assert list(tmp_path.iterdir()) == []


def test_initial_accepts_known_loss_names_and_formulas():
    assert SearchConfig(space="iou_reg", initial_formula="iou").validate()
    assert SearchConfig(space="iou_reg", initial_formula="1 - i / u + 0.5").validate()
    with pytest.raises(ConfigError, match="initial loss: unknown name 'q'"):
        SearchConfig(space="iou_reg", initial_formula="i + q").validate()


def test_config_values_are_checked_when_built_from_a_dict():
    with pytest.raises(ConfigError, match="time-limit"):
        SearchConfig.from_dict({"time_limit": "abc"})
    with pytest.raises(ConfigError, match="verify-margin"):
        SearchConfig(verify_margin=math.nan).validate()
    assert SearchConfig.from_dict({"time_limit": 5, "verify_margin": 0.01}).time_limit == 5


# ---- formulas that start with '-' ------------------------------------------------------------------------------

DASHED = ["-dot(y,log(softmax(x)))", "-dot(y, log(softmax(x)))", "-sin(w) * dot(y, log(softmax(x)))", "-w"]


@pytest.mark.parametrize("formula", DASHED)
@pytest.mark.parametrize("where", ["before", "after"])
def test_show_takes_a_formula_that_starts_with_a_minus(formula, where, capsys):
    argv = ["show", formula, "--space", "softmax_cls"] if where == "before" else \
        ["show", "-s", "softmax_cls", formula]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert f"infix:  {parse(formula, 'softmax_cls')}" in capsys.readouterr().out


def test_check_and_render_take_a_formula_that_starts_with_a_minus(tmp_path, capsys):
    assert main(["check", "-dot(w*y,log(softmax(x)))", "--space", "softmax_cls"]) in (0, 1)
    assert "PASS" in capsys.readouterr().out
    assert main(["render", "-dot(y,log(softmax(x)))", "-s", "softmax_cls", "-o", str(tmp_path / "d.dot")]) == 0
    assert (tmp_path / "d.dot").is_file()


def test_search_initial_takes_a_formula_that_starts_with_a_minus():
    parser = build_parser()
    for argv in (["search", "--initial", "-dot(y,log(softmax(x)))", "--out", "r"],
                 ["search", "--out", "r", "--initial", "-w*dot(y, log(softmax(x)))"]):  # fmt: skip
        args = parser.parse_args(protect_formulas(argv, parser))
        assert args.initial_formula == argv[argv.index("--initial") + 1] and args.out == "r"


def test_options_are_still_options():
    parser = build_parser()
    args = parser.parse_args(protect_formulas(["show", "-ssoftmax_cls", "-dot(y,log(softmax(x)))"], parser))
    assert (args.space, args.formula) == ("softmax_cls", "-dot(y,log(softmax(x)))")
    args = parser.parse_args(protect_formulas(["show", "i", "--sp", "iou_reg"], parser))
    assert (args.space, args.formula) == ("iou_reg", "i")


# ---- one depth limit ----------------------------------------------------------------------------------------------


def _chain(depth: int) -> gp.PrimitiveTree:
    space = parse("i", "iou_reg").space
    neg = space.pset.mapping["neg_S"]
    return gp.PrimitiveTree([neg] * depth + [space.pset.mapping["i"]])


def test_loss_refuses_trees_deeper_than_the_parser_accepts():
    deepest = Loss(_chain(MAX_DEPTH), "iou_reg")
    assert parse(str(deepest), "iou_reg") == deepest and parse(deepest.to_prefix(), "iou_reg") == deepest
    assert deepest.to_torch() is not None
    for depth in (MAX_DEPTH + 1, 2000):
        with pytest.raises(FormulaError, match=f"deeper than the limit of {MAX_DEPTH}"):
            Loss(_chain(depth), "iou_reg")
    with pytest.raises(FormulaError):
        parse("-" * (MAX_DEPTH + 1) + "i", "iou_reg")


def test_plugins_setting_is_checked_before_anything_is_imported(tmp_path):
    from gp_autoloss.search import SearchEngine

    with pytest.raises(ConfigError, match="plugins must be a list of module names"):
        SearchEngine.create(SearchConfig(plugins="this"), tmp_path / "run")  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists()
