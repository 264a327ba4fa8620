"""No silent convergence opt-out (issue 14, item 4): a loss that does not train the prediction is invalid in
every space, and a space without a convergence check says "not checked" in the funnel."""

from __future__ import annotations

from pathlib import Path

import pytest

from gp_autoloss import check, parse
from gp_autoloss.checks import NOT_CHECKED, check_validness, get_probes, has_convergence_check
from gp_autoloss.reporting import load_run, render_html
from gp_autoloss.reporting.series import funnel
from gp_autoloss.reporting.text import format_report
from gp_autoloss.search import SearchConfig, SearchEngine
from primitives import SPACES, Input, Scalar, SearchSpace
from tests.unchecked_space_plugin import SPACE

CONSTANT_IN_PREDICTION = [
    # (space, formula): no path to a prediction input, or a gradient that is exactly 0 on every probe point
    ("softmax_cls", "w"),
    ("softmax_cls", "-dot(y, log(softmax(y)))"),
    ("softmax_cls", "dot(y, x - x)"),
    ("softmax_cls", "w * dot(y, relu(-abs(x)))"),
    ("sigmoid_cls", "-(w * y)"),
    ("sigmoid_cls", "x - x + y"),
    ("sigmoid_cls", "0 * x"),
    ("iou_reg", "2"),
    ("iou_reg", "(i - i) + (u - u)"),
    ("iou_reg", "relu(i - u)"),  # i <= u on every box pair
    (SPACE, "t"),
    (SPACE, "p - p + t"),
    (SPACE, "relu(-(p * p))"),
]


@pytest.mark.parametrize("space, formula", CONSTANT_IN_PREDICTION)
def test_a_loss_that_does_not_train_the_prediction_is_invalid(space, formula):
    result = check_validness(parse(formula, space))
    assert not result.passed and "does not depend on the prediction" in result.reason, result.reason
    wrt = get_probes(space).wrt
    assert wrt == SPACES[space].prediction_inputs and all(name in result.reason for name in wrt)
    verdict = check(parse(formula, space))
    assert verdict.failed_check == "validness" and verdict.convergence is None


@pytest.mark.parametrize("space, formula", [("softmax_cls", "-dot(w * y, log(softmax(x)))"), ("sigmoid_cls", "x * y"),
                                            ("iou_reg", "1 - i / u"), (SPACE, "(p - t) * (p - t)")])  # fmt: skip
def test_a_loss_of_the_prediction_stays_valid(space, formula):
    assert check_validness(parse(formula, space)).passed


def test_prediction_inputs_are_declared_by_each_space():
    assert SPACES["softmax_cls"].prediction_inputs == ("x",)
    assert SPACES["sigmoid_cls"].prediction_inputs == ("x",)
    assert SPACES["iou_reg"].prediction_inputs == ("i", "u", "e")
    assert SPACES[SPACE].prediction_inputs == ("p",)
    unmarked = SearchSpace(name="unmarked_t", output=Scalar, primitives=("add",),
                           inputs=(Input("a", Scalar), Input("b", Scalar)))  # fmt: skip
    assert unmarked.prediction_inputs == ("a", "b")  # none marked: every input may carry the prediction


def test_a_space_without_a_convergence_check_is_not_checked():
    assert not has_convergence_check(SPACE) and has_convergence_check("iou_reg")
    verdict = check(parse("(p - t) * (p - t)", SPACE))
    assert verdict.passed and verdict.convergence is not None
    assert verdict.convergence.reason.startswith(NOT_CHECKED) and verdict.convergence.details["checked"] is False


def test_the_funnel_says_not_checked_for_a_space_without_a_convergence_check(tmp_path: Path):
    cfg = SearchConfig(space=SPACE, strategy="cse", adapter="faulty", plugins=["tests.unchecked_space_plugin"],
                       initial_formula="(p - t) * (p - t)", generations=2, population=12, parents=3, top_k=2,
                       seed=3, time_limit=5.0, max_depth=4)  # fmt: skip
    engine = SearchEngine.create(cfg, tmp_path / "run")
    try:
        engine.run()
    finally:
        engine.close()
    run = load_run(tmp_path / "run")
    rows = [r for r in funnel(run) if r["finished"]]
    assert len(rows) == 2
    for row in rows:
        assert row["convergent"] == NOT_CHECKED, row
        assert isinstance(row["valid"], int) and row["valid"] < row["generated"]  # constants in p are rejected
    text = format_report(run)
    assert NOT_CHECKED in text.split("funnel per generation")[1]
    page = render_html([run])
    assert page.count(f"<td>{NOT_CHECKED}</td>") == 2  # one cell per generation in the funnel table
    rejected = [c for c in run.candidates if c.get("validness_ok") is False]
    assert any("does not depend on the prediction (p)" in c["validness_reason"] for c in rejected)


def test_check_command_says_not_checked(capsys):
    from gp_autoloss.cli.main import main

    assert main(["check", "(p - t) * (p - t)", "--space", SPACE]) == 0
    out = capsys.readouterr().out
    assert f"convergence  {NOT_CHECKED}: no convergence check registered for space '{SPACE}'" in out
    assert "convergence  pass" not in out
    assert main(["check", "p - p + t", "--space", SPACE]) == 1
    assert "does not depend on the prediction" in capsys.readouterr().out
