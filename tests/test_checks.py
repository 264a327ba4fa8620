"""The cheap checks (paper §3.2): good losses pass, broken ones fail with a reason; CLI and benchmark run."""

from __future__ import annotations

import doctest
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gp_autoloss import check, known_loss, parse, random_loss
from gp_autoloss.checks import (
    CONVERGENCE_CHECKS,
    PROBE_BUILDERS,
    CheckResult,
    Evaluation,
    Verdict,
    check_convergence,
    check_validness,
    evaluate,
    get_probes,
    register_convergence_check,
    register_probes,
)
from gp_autoloss.checks.classification import sigmoid_probes
from gp_autoloss.checks.probes import DOMAIN_SAMPLE
from gp_autoloss.checks.regression import iou_inputs
from primitives import (
    PAPER_PRIMITIVES,
    PRIMITIVES,
    SPACES,
    UNARY,
    Input,
    Scalar,
    SearchSpace,
    register_primitive,
    register_space,
)

REPO = Path(__file__).resolve().parents[1]
SPACE_NAMES = ("softmax_cls", "sigmoid_cls", "iou_reg")

# ---- good losses pass ----------------------------------------------------------------------------------------
MUST_PASS = ("ce", "cei", "cse_a_cls", "bce", "fl", "fli", "cse_b_cls", "iou", "giou", "cse_a_reg", "cse_b_reg")


@pytest.mark.parametrize("name", MUST_PASS)
def test_known_losses_pass(name):
    verdict = check(known_loss(name))
    assert verdict.passed, verdict.reason
    assert verdict.validness.passed and verdict.convergence is not None and verdict.convergence.passed
    assert verdict.reason == "" and verdict.failed_check is None


@pytest.mark.parametrize(
    "space, formula",
    [
        ("iou_reg", "u - i"),  # design-notes: passes in pixel units
        ("iou_reg", "log(u - i)"),  # valid despite u == i at perfect overlap: log's 1e-20 floor
        ("softmax_cls", "-dot(w * y, log(softmax(x)))"),
        ("softmax_cls", "-dot(y, log(softmax(x))) - dot(y, log(softmax(x)))"),
        # IoU-aware soft-target BCE: not monotone for a positive with w < 1, so sigmoid_cls checks w = 1 only
        ("sigmoid_cls", "-(w * y * log(sigmoid(x)) + (1 - w * y) * log(1 - sigmoid(x)))"),
        ("sigmoid_cls", "softplus(x) - x * y"),  # BCE written with softplus: no eps floor involved
    ],
)
def test_other_sound_losses_pass(space, formula):
    verdict = check(parse(formula, space))
    assert verdict.passed, verdict.reason


# ---- broken losses fail, with a reason ----------------------------------------------------------------------
BROKEN = [
    # (space, formula, failing check, words the reason must contain)
    ("softmax_cls", "dot(y, log(softmax(x)))", "convergence", ["not monotone", "rises", "positive score"]),
    ("softmax_cls", "-dot(y, x)", "convergence", ["non-convergent", "does not fall to 0"]),
    ("softmax_cls", "-dot(y, x) - dot(y, log(softmax(x)))", "convergence", ["non-convergent"]),
    ("softmax_cls", "-dot(y, log(softmax(sqrt(x))))", "validness", ["value is NaN"]),
    ("softmax_cls", "dot(y, exp(x) * exp(x))", "validness", ["beyond float32's range", "extreme logits"]),
    ("softmax_cls", "-dot(y, sin(x))", "convergence", ["not monotone"]),
    ("softmax_cls", "w", "validness", ["does not depend on the prediction"]),
    ("sigmoid_cls", "sqrt(x)", "validness", ["value is NaN"]),
    ("sigmoid_cls", "sqrt(x * x)", "validness", ["gradient w.r.t. x is NaN", "x=0"]),  # inf * 0 at x = 0
    ("sigmoid_cls", "-y * x + (1 - y) * x", "convergence", ["non-convergent"]),
    ("sigmoid_cls", "-y * log(sigmoid(x))", "convergence", ["does not increase", "negative score"]),
    ("iou_reg", "1 / (u - i)", "validness", ["gradient", "beyond float32's range", "perfect overlap"]),
    ("iou_reg", "sqrt(u - i)", "validness", ["gradient", "inf", "perfect overlap"]),
    ("iou_reg", "1 / i", "validness", ["gradient", "disjoint boxes"]),
    ("iou_reg", "sqrt(i - u)", "validness", ["value is NaN"]),
    # design-notes.md: these violate distance-loss consistency
    ("iou_reg", "i / u", "convergence", ["not monotone", "falls", "translation"]),
    ("iou_reg", "i - u", "convergence", ["not monotone", "falls"]),
    ("iou_reg", "sin(i / u)", "convergence", ["not monotone", "falls"]),
    ("iou_reg", "(1 - i / u) * (1 - i / u) - (1 - i / u)", "convergence", ["not monotone", "falls"]),
    ("iou_reg", "2", "validness", ["does not depend on the prediction"]),
]


@pytest.mark.parametrize("space, formula, stage, words", BROKEN)
def test_broken_losses_fail_with_reason(space, formula, stage, words):
    verdict = check(parse(formula, space))
    assert not verdict.passed
    assert verdict.failed_check == stage, verdict.reason
    for word in words:
        assert word in verdict.reason, verdict.reason
    failed = verdict.validness if stage == "validness" else verdict.convergence
    assert failed is not None and failed.reason == verdict.reason and failed.details
    if stage == "validness":
        assert verdict.convergence is None


def test_float32_overflow_counts_as_inf():
    """exp(u) clamps at exp(88) = 1.65e38 (finite in float32); three times that is inf in float32 training."""
    assert check_validness(parse("exp(u)", "iou_reg")).passed
    result = check_validness(parse("3 * exp(u)", "iou_reg"))
    assert not result.passed and "beyond float32's range" in result.reason
    assert result.details["value"] > float(np.finfo(np.float32).max)


@pytest.mark.parametrize("formula", ["tanh(e / i)", "log(u / i)"])
def test_float32_pass_catches_intermediate_overflow(formula):
    """Finite in float64, but d(e/i)/di = -e/1e-40 is inf in float32 at disjoint boxes: NaN/inf in training."""
    loss = parse(formula, "iou_reg")
    assert check_convergence(loss).passed
    assert evaluate(loss).values_in_range
    verdict = check(loss)
    assert verdict.failed_check == "validness" and verdict.convergence is None
    assert "in float32 at disjoint boxes" in verdict.reason and verdict.validness.details["dtype"] == "float32"
    assert check_validness(loss).reason == verdict.reason
    assert check(parse("-log(i / u)", "iou_reg")).passed  # the same loss written the float32-safe way


def test_validness_reason_names_the_failing_probe():
    result = check_validness(parse("1 / (u - i)", "iou_reg"))
    assert result.details["probe"] == "perfect overlap"
    assert result.details["inputs"]["i"] == result.details["inputs"]["u"]  # float32 geometry: u == i exactly
    assert "perfect overlap" in result.details["bad_groups"]
    assert result.details["stage"] == "gradient w.r.t. i"


def test_convergence_runs_standalone():
    assert check_convergence(known_loss("giou")).passed
    result = check_convergence(parse("i / u", "iou_reg"))
    assert isinstance(result, CheckResult) and not result.passed and result.name == "convergence"
    assert result.details["property"] == "monotonicity"


# ---- the facts the design rests on --------------------------------------------------------------------------
def test_iou_loss_is_flat_once_disjoint_and_still_passes():
    probes = get_probes("iou_reg")
    ev = evaluate(known_loss("iou"))
    c = probes.curves
    m = c.labels.index("translation right by t box sizes, 100x100 target")
    values = ev.values[c.rows[m]]
    far = c.params[m] >= 1.0
    assert np.all(values[far] == values[far][0])  # flat: 1 - 0/u
    assert values[0] < 1e-6 < values[-1]
    assert check(known_loss("iou")).passed


def test_float32_geometry_makes_perfect_overlap_exact():
    box = np.array([[320.0, 240.0, 420.0, 340.0]])
    got = iou_inputs(box, box)
    assert got["i"][0] == got["u"][0] == got["e"][0] == 10000.0
    tiny = np.array([[0.0, 0.0, 0.01, 0.01]])
    got = iou_inputs(tiny, tiny)
    assert got["u"][0] > got["i"][0]  # below a pixel the authors' 1e-7 survives float32 rounding


def test_cse_b_cls_soft_target_is_why_sigmoid_positives_use_w_1():
    """design-notes: CSE-B_cls for a positive with w = 0.3 falls, then rises again; with w = 1 it falls to 0."""
    loss = known_loss("cse_b_cls").to_torch()
    x = torch.tensor([-6.0, 0.0, 12.0], dtype=torch.float64)
    one = torch.ones(3, dtype=torch.float64)
    soft = loss(x=x, y=one, w=0.3 * one)
    assert soft[1] < soft[0] and soft[2] > soft[1]
    hard = loss(x=x, y=one, w=one)
    assert hard[0] > hard[1] > hard[2]


def test_probes_are_float64_cached_and_cover_the_extremes():
    for name in SPACE_NAMES:
        probes = get_probes(name)
        assert probes is get_probes(name)
        assert all(t.dtype == torch.float64 for t in probes.inputs.values())
        assert all(probes.inputs[n].requires_grad for n in probes.wrt)
        assert probes.groups[0].start == 0 and probes.groups[-1].stop == probes.rows
    softmax = get_probes("softmax_cls")
    assert softmax.arrays["x"].max() >= 50 and softmax.arrays["x"].min() <= -50  # and the domain sample's up to 60
    assert softmax.arrays["w"].min() == pytest.approx(1e-7) and softmax.arrays["w"].max() == 1.0
    reg = get_probes("iou_reg").arrays
    assert (reg["i"] == 0).any() and reg["u"].max() > 1e7 and reg["i"][reg["i"] > 0].min() < 1e-3


# ---- one batched forward and one backward per candidate ----------------------------------------------------
@pytest.fixture
def tally_space():
    calls = {"forward": 0, "backward": 0, "rows": []}

    def tally(a: torch.Tensor) -> torch.Tensor:
        calls["forward"] += 1
        calls["rows"].append((a.shape[0], a.dtype))
        if a.requires_grad:
            a.register_hook(lambda g: calls.__setitem__("backward", calls["backward"] + 1))
        return a * 1.0

    def boom(a: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")

    register_primitive("tally_t", tally, UNARY, doc="identity that counts its calls")
    register_primitive("boom_t", boom, UNARY, doc="raises")
    space = register_space(SearchSpace(
        name="tally_cls_t", inputs=SPACES["sigmoid_cls"].inputs, output=Scalar,
        primitives=tuple(p for p in PAPER_PRIMITIVES if p not in ("softmax", "dot")) + ("tally_t", "boom_t"),
    ))  # fmt: skip
    register_probes("tally_cls_t")(sigmoid_probes)
    register_convergence_check("tally_cls_t")(CONVERGENCE_CHECKS["sigmoid_cls"])
    yield space, calls
    CONVERGENCE_CHECKS.remove("tally_cls_t")
    PROBE_BUILDERS.remove("tally_cls_t")
    SPACES.remove("tally_cls_t")
    PRIMITIVES.remove("tally_t")
    PRIMITIVES.remove("boom_t")


def test_one_batched_forward_and_one_backward(tally_space):
    space, calls = tally_space
    verdict = check(parse("-(y * log(sigmoid(tally_t(x))) + (1 - y) * log(1 - sigmoid(tally_t(x))))", space))
    assert verdict.passed, verdict.reason
    # two tally_t nodes in the tree, each evaluated once over the whole probe batch and once backward, in
    # float64 (every check) and in float32 (validness in the training precision, run last)
    assert calls["forward"] == 4 and calls["backward"] == 4
    rows = get_probes(space).rows
    assert calls["rows"] == [(rows, torch.float64)] * 2 + [(rows, torch.float32)] * 2


def test_failing_candidate_gets_one_float64_pass(tally_space):
    space, calls = tally_space
    verdict = check(parse("-(y * log(sigmoid(tally_t(x))))", space))  # ignores negatives
    assert verdict.failed_check == "convergence"
    assert calls["forward"] == 1 and calls["backward"] == 1 and calls["rows"][0][1] == torch.float64


def test_invalid_candidate_skips_the_backward(tally_space):
    space, calls = tally_space
    verdict = check(parse("sqrt(tally_t(x))", space))
    assert verdict.failed_check == "validness" and "value is NaN" in verdict.reason
    assert calls["forward"] == 1 and calls["backward"] == 0


def test_fast_evaluation_matches_compiled_loss():
    """The checks' tree evaluator computes exactly what CompiledLoss computes (values and gradients)."""
    rng = random.Random(7)
    for name in SPACE_NAMES:
        probes = get_probes(name)
        losses = [random_loss(name, rng) for _ in range(150)] + [
            known_loss(k) for k in MUST_PASS if known_loss(k).space.name == name
        ]
        for loss in losses:
            ev = evaluate(loss, probes)
            ev.backward()
            inputs = {k: v.detach().clone().requires_grad_(k in probes.wrt) for k, v in probes.inputs.items()}
            out = loss.to_torch()(**inputs)
            np.testing.assert_array_equal(out.detach().numpy().reshape(-1), ev.values)
            if out.requires_grad and np.isfinite(ev.values).all():
                leaves = [inputs[k] for k in probes.wrt]
                grads = torch.autograd.grad(out, leaves, torch.ones_like(out), allow_unused=True)
                for k, g in zip(probes.wrt, grads):
                    want = np.zeros(inputs[k].shape) if g is None else g.numpy()
                    # CompiledLoss merges repeated subexpressions: gradients then sum in another order
                    np.testing.assert_allclose(ev.grads[k], want, rtol=1e-6, atol=1e-15, err_msg=f"{loss} d/d{k}")


def test_candidate_that_raises_fails_validness(tally_space):
    space, _ = tally_space
    verdict = check(parse("boom_t(x)", space))
    assert verdict.failed_check == "validness" and verdict.reason == "forward raised RuntimeError: boom"
    assert verdict.validness.details["error"] == verdict.reason


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_checks_work_under_no_grad(context):
    with context():
        assert check(known_loss("cei")).passed
        assert check(parse("-dot(y, x)", "softmax_cls")).reason.startswith("non-convergent")


# ---- extension: registries --------------------------------------------------------------------------------
@pytest.fixture
def plain_space():
    space = register_space(SearchSpace(
        name="plain_reg_t", inputs=(Input("p", Scalar, "prediction"), Input("t", Scalar, "target")), output=Scalar,
        primitives=("add", "sub", "mul", "abs", "log", "sqrt"),
    ))  # fmt: skip
    yield space
    if "plain_reg_t" in CONVERGENCE_CHECKS:
        CONVERGENCE_CHECKS.remove("plain_reg_t")
    SPACES.remove("plain_reg_t")


def test_space_without_registered_checks(plain_space):
    verdict = check(parse("(p - t) * (p - t)", plain_space))
    assert verdict.passed and verdict.convergence is not None
    assert verdict.convergence.reason == "not checked: no convergence check registered for space 'plain_reg_t'"
    assert get_probes(plain_space).rows > 100  # the default grid over every input
    bad = check(parse("log(p - t)", plain_space))
    assert bad.failed_check == "validness" and "NaN" in bad.reason


def test_register_convergence_check(plain_space):
    @register_convergence_check("plain_reg_t")
    def nonnegative(ev: Evaluation) -> CheckResult:
        ok = bool((ev.values >= 0).all())
        return CheckResult("convergence", ok, "" if ok else "negative somewhere")

    assert check(parse("abs(p - t)", plain_space)).passed
    verdict = check(parse("p - t", plain_space))
    assert not verdict.passed and verdict.reason == "negative somewhere"


# ---- results serialize ------------------------------------------------------------------------------------
@pytest.mark.parametrize("space, formula", [("softmax_cls", "-dot(y, log(softmax(x)))"), ("sigmoid_cls", "sqrt(x)"),
                                            ("iou_reg", "i / u"), ("iou_reg", "1 / (u - i)")])  # fmt: skip
def test_verdict_to_dict_is_strict_json(space, formula):
    verdict = check(parse(formula, space))
    assert isinstance(verdict, Verdict)
    data = json.loads(json.dumps(verdict.to_dict(), allow_nan=False))
    assert data["passed"] == verdict.passed and data["reason"] == verdict.reason
    assert (data["convergence"] is None) == (verdict.convergence is None)


def test_docstrings_run():
    import gp_autoloss.checks as checks_pkg
    from gp_autoloss.checks import pipeline

    for module in (checks_pkg, pipeline):
        assert doctest.testmod(module).failed == 0


# ---- CLI ----------------------------------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gp_autoloss.cli.main", "check", *args], cwd=REPO,
                          check=False, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_cli_exit_codes_and_json():
    ok = _cli("-dot(w * y, log(softmax(x)))", "--space", "softmax_cls")
    assert ok.returncode == 0 and "PASS" in ok.stdout
    js = _cli("sqrt(x)", "--space", "sigmoid_cls", "--json")
    assert js.returncode == 1
    data = json.loads(js.stdout)
    assert data["failed_check"] == "validness" and data["convergence"] is None and "NaN" in data["reason"]
    bad = _cli("sqrt(x", "--space", "sigmoid_cls")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "error" in bad.stderr and not bad.stdout


def test_cli_in_process(capsys):
    from gp_autoloss.cli.main import main

    assert main(["check", "i / u", "--space", "iou_reg"]) == 1
    out = capsys.readouterr().out
    assert "not monotone" in out and "FAIL (convergence)" in out
    assert main(["check", "cse_b_reg", "--json"]) == 0
    known = json.loads(capsys.readouterr().out)
    assert known["passed"] and known["space"] == "iou_reg" and known["convergence"]["passed"]
    for args in (["x", "--space", "nope"], ["dot(w, y)", "--space", "softmax_cls"], ["x + 1"]):
        assert main(["check", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error" in err


def test_check_speed_benchmark_runs(tmp_path):
    res = subprocess.run([sys.executable, "-m", "benchmarks.check_speed", "--n", "60", "--space", "iou_reg",
                          "--out", str(tmp_path)], cwd=REPO, check=False, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "candidates/s" in res.stdout
    data = json.loads((tmp_path / "check_speed.json").read_text())
    assert data["spaces"][0]["space"] == "iou_reg" and data["spaces"][0]["n"] == 60
    assert (tmp_path / "check_speed.csv").read_text().startswith("space,")
    helped = subprocess.run([sys.executable, "-m", "benchmarks.check_speed", "--help"], cwd=REPO,
                            check=False, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert helped.returncode == 0 and "--n" in helped.stdout


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_probes_include_a_sample_of_the_input_domains(name):
    """The checks see what the fingerprint sees: a seeded sample of each input's declared domain, after the
    hand-made scenarios and curves (whose rows it leaves in place)."""
    probes = get_probes(name)
    (group,) = [g for g in probes.groups if g.label == DOMAIN_SAMPLE]
    assert group.stop == probes.rows and group.stop - group.start >= 100
    rows = slice(group.start, group.stop)
    if name == "iou_reg":
        i, u, e = (probes.arrays[k][rows] for k in "iue")
        assert (0 <= i).all() and (i <= u).all() and (i == 0).any() and (u == e).any()
        assert (u <= e * (1 + 1e-6)).all()  # float32 areas, as the heads compute them: u may pass e by an ulp
    else:
        x, y, w = (probes.arrays[k][rows] for k in "xyw")
        assert (x < -20).any() and (x > 20).any() and set(np.unique(y)) == {0.0, 1.0}
        assert (w > 0).all() and (w <= 1).all()
        if name == "softmax_cls":
            assert (y.sum(axis=1) == 1).all() and (w[y[:, -1] == 1] == 1).all()  # one-hot; w = 1 on background
