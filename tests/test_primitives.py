"""Primitives and spaces: the registry, every typed signature in every space, and the authors' definitions.

The contract tests are parametrized over *every* registered primitive and space, so a newly registered
primitive is checked for free. The definitions are compared with independent numpy references.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from deap import gp

from gp_autoloss import Loss, parse, random_loss
from primitives import (
    BINARY,
    DOT,
    PAPER_PRIMITIVES,
    PRIMITIVES,
    REGRESSION_PRIMITIVES,
    SPACES,
    UNARY,
    UNARY_VECTOR,
    Input,
    Registry,
    Scalar,
    SearchSpace,
    Vector,
)
from tests.conftest import output_shape, realistic_inputs

B, C = 6, 5

# ---- registry and spaces ---------------------------------------------------------------------------------


def test_the_paper_has_21_primitives_all_registered():
    assert len(PAPER_PRIMITIVES) == 21
    assert len(set(PAPER_PRIMITIVES)) == 21
    assert all(name in PRIMITIVES for name in PAPER_PRIMITIVES)
    assert set(REGRESSION_PRIMITIVES) < set(PAPER_PRIMITIVES)
    assert set(PAPER_PRIMITIVES) - set(REGRESSION_PRIMITIVES) == {"softmax", "dot", "gd", "alf", "erf", "erfc"}


#: the signatures the issue prescribes, written out (not read from the library)
EXPECTED_SIGNATURES = {
    **{name: {"SS->S", "SV->V", "VS->V", "VV->V"} for name in ("add", "sub", "mul", "div")},
    "dot": {"VV->S"},
    "softmax": {"V->V"},
    **{name: {"S->S", "V->V"} for name in ("neg", "exp", "log", "abs", "sqrt", "softplus", "sigmoid", "gd", "alf",
                                         "erf", "erfc", "tanh", "relu", "sin", "cos")},
}


@pytest.mark.parametrize("name", PAPER_PRIMITIVES)
def test_signatures_of_paper_primitives(name):
    prim = PRIMITIVES[name]
    got = {f"{sig.code}->{sig.result.short}" for sig in prim.signatures}
    assert got == EXPECTED_SIGNATURES[name]
    assert prim.arity == (2 if name in ("add", "sub", "mul", "div", "dot") else 1)


def test_signature_tables():
    assert [str(s) for s in BINARY] == ["(Scalar, Scalar) -> Scalar", "(Scalar, Vector) -> Vector",
                                        "(Vector, Scalar) -> Vector", "(Vector, Vector) -> Vector"]
    assert [str(s) for s in DOT] == ["(Vector, Vector) -> Scalar"]
    assert [str(s) for s in UNARY_VECTOR] == ["(Vector) -> Vector"]
    assert [str(s) for s in UNARY] == ["(Scalar) -> Scalar", "(Vector) -> Vector"]
    assert PRIMITIVES["add"].resolve((Vector, Scalar)).result is Vector
    assert PRIMITIVES["dot"].resolve((Scalar, Vector)) is None


def test_infix_operators():
    assert {n: (PRIMITIVES[n].infix, PRIMITIVES[n].precedence) for n in ("add", "sub", "mul", "div", "neg")} == {
        "add": ("+", 10), "sub": ("-", 10), "mul": ("*", 20), "div": ("/", 20), "neg": ("-", 30)}
    assert all(PRIMITIVES[n].infix is None for n in PAPER_PRIMITIVES if n not in ("add", "sub", "mul", "div", "neg"))


def test_builtin_spaces():
    assert {"softmax_cls", "sigmoid_cls", "iou_reg"} <= set(SPACES)
    soft, sig, reg = SPACES["softmax_cls"], SPACES["sigmoid_cls"], SPACES["iou_reg"]
    assert [(i.name, i.type) for i in soft.inputs] == [("x", Vector), ("y", Vector), ("w", Scalar)]
    assert [(i.name, i.type) for i in sig.inputs] == [("x", Scalar), ("y", Scalar), ("w", Scalar)]
    assert [(i.name, i.type) for i in reg.inputs] == [("i", Scalar), ("u", Scalar), ("e", Scalar)]
    assert soft.output is Scalar and sig.output is Scalar and reg.output is Scalar
    assert (soft.reduction, sig.reduction, reg.reduction) == ("none", "sum_classes", "none")
    assert soft.constants == sig.constants == reg.constants == (1, 2, 3)
    assert set(soft.primitives) == set(PAPER_PRIMITIVES)
    assert set(sig.primitives) == set(PAPER_PRIMITIVES) - {"softmax", "dot"}
    assert set(reg.primitives) == set(REGRESSION_PRIMITIVES)
    assert (soft.initial_loss, sig.initial_loss, reg.initial_loss) == ("cei", "fli", "giou")
    assert soft.has_vectors and not sig.has_vectors and not reg.has_vectors


@pytest.mark.parametrize("space", SPACES.names())
def test_space_builds_a_typed_deap_pset(space):
    sp = SPACES[space]
    pset = sp.pset
    assert isinstance(pset, gp.PrimitiveSetTyped)
    assert pset.ret is sp.output
    assert pset.ins == [i.type for i in sp.inputs]
    assert set(pset.arguments) == {i.name for i in sp.inputs}
    for name in sp.primitives:
        for sig in sp.signatures_of(name):
            deap_prim = pset.mapping[PRIMITIVES[name].deap_name(sig)]
            assert isinstance(deap_prim, gp.Primitive)
            assert tuple(deap_prim.args) == sig.args and deap_prim.ret is sig.result
    assert sum(len(v) for v in pset.primitives.values()) == len(sp.overloads)
    for c in sp.constants:
        assert pset.mapping[str(c)].value == c and pset.mapping[str(c)].ret is Scalar
    # Only overloads whose types exist in the space are offered.
    types = sp.types
    assert all(t in types for ov in sp.overloads.values() for t in (*ov.signature.args, ov.signature.result))


def test_space_validation():
    with pytest.raises(ValueError, match="reduction"):
        SearchSpace("bad", (Input("a", Scalar),), Scalar, ("add",), reduction="mean")
    with pytest.raises(ValueError, match="duplicate"):
        SearchSpace("bad", (Input("a", Scalar), Input("a", Scalar)), Scalar, ("add",))
    with pytest.raises(ValueError, match="no signature"):
        SearchSpace("bad", (Input("a", Scalar),), Scalar, ("softmax",))  # needs vectors
    with pytest.raises(KeyError, match="unknown primitive 'nope'"):
        SearchSpace("bad", (Input("a", Scalar),), Scalar, ("nope",))


def test_registry():
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(KeyError, match="already registered"):
        reg.add("a", 2)
    reg.add("a", 3, replace=True)
    assert reg["a"] == 3 and "a" in reg and len(reg) == 1 and reg.names() == ["a"]
    with pytest.raises(KeyError, match="unknown thing 'b'; known: a"):
        reg.get("b")
    assert reg.remove("a") == 3 and "a" not in reg


# ---- contract: every primitive, every signature usable in every space -------------------------------------


def _contract_cases() -> list:
    cases = []
    for space_name, sp in SPACES.items():
        for name in sp.primitives:
            for sig in sp.signatures_of(name):
                cases.append(pytest.param(space_name, name, sig, id=f"{space_name}-{name}-{sig.code}"))
    return cases


def _argument_texts(sp: SearchSpace, arg_types) -> list[str]:
    """Distinct inputs of the wanted types (so that argument order is visible), then a constant."""
    pools = {
        t: [i.name for i in sp.inputs if i.type is t] + ([str(c) for c in sp.constants] if t is Scalar else [])
        for t in (Scalar, Vector)
    }
    return [pools[t][k % len(pools[t])] for k, t in enumerate(arg_types)]


def _as_compiled_sees_them(sp: SearchSpace, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Scalars carry a trailing class dimension of 1 in spaces that have vectors."""
    if not sp.has_vectors:
        return dict(inputs)
    return {k: v.unsqueeze(-1) if sp.input_map[k].type is Scalar else v for k, v in inputs.items()}


@pytest.mark.parametrize(("space", "name", "sig"), _contract_cases())
def test_primitive_signature_contract(space, name, sig, gen):
    """Each overload: direct call gives the broadcast shape; the compiled formula applies it to the right args."""
    sp = SPACES[space]
    prim = PRIMITIVES[name]
    inputs = realistic_inputs(sp, gen, batch=B, classes=C)
    seen = _as_compiled_sees_them(sp, inputs)
    texts = _argument_texts(sp, sig.args)
    args = [seen[t] if t in seen else torch.tensor(float(t), dtype=torch.float64) for t in texts]

    direct = prim.fn(*args)
    if sp.has_vectors:
        want = (B, C) if sig.result is Vector else (B, 1)  # V.S -> B x C, S.S and dot -> one value per sample
    else:
        want = torch.broadcast_shapes(*(a.shape for a in args))
    assert direct.shape == want
    assert direct.dtype == torch.float64

    # Element-wise overloads act column by column: a Scalar argument broadcasts over the classes.
    if sp.has_vectors and name not in ("dot", "softmax") and sig.result is Vector:
        for j in range(C):
            # column j of a vector, the (B,) values of a scalar, or the constant itself
            cols = [a if a.dim() == 0 else a[:, j] if a.shape[-1] == C else a[:, 0] for a in args]
            assert torch.allclose(direct[:, j], prim.fn(*cols), equal_nan=True)

    call = f"{name}({', '.join(texts)})"
    if sig.result is not sp.output and "dot" not in sp.primitives:
        pytest.skip(f"{space} cannot reduce a {sig.result.__name__} to its output")
    formula = call if sig.result is sp.output else f"dot({call}, y)"
    loss = parse(formula, sp)
    out = loss.to_torch()(**inputs)
    assert out.shape == output_shape(sp, batch=B, classes=C)
    if formula == call:
        expected = direct.squeeze(-1) if sp.has_vectors else direct.expand(out.shape)
    else:
        expected = (direct * seen["y"]).sum(dim=-1)
    assert torch.allclose(out, expected, equal_nan=True)


@pytest.mark.parametrize("space", SPACES.names())
def test_random_generation_in_every_space(space):
    """Typed generation never raises DEAP's IndexError, and respects the depth and size limits."""
    rng = random.Random(7)
    for method in ("grow", "full", "half"):
        for _ in range(200):
            loss = random_loss(space, rng, max_depth=5, max_size=30, method=method)
            assert isinstance(loss, Loss)
            assert loss.size <= 30 and loss.depth <= 5
            assert loss.output_type is SPACES[space].output


# ---- the authors' definitions, against independent numpy references ---------------------------------------

SQRT_PI_4 = math.sqrt(math.pi) / 4.0
_erf = np.vectorize(math.erf, otypes=[float])
_erfc = np.vectorize(math.erfc, otypes=[float])


def _softmax(a):
    z = np.exp(a - a.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


#: written from authors-code.md and the paper, with other identities where there is one
REFERENCES = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b + 1e-20),
    "dot": lambda a, b: np.einsum("bc,bc->b", a, b)[:, None],
    "neg": lambda a: -a,
    "exp": lambda a: np.exp(np.minimum(a, 88.0)),
    "log": lambda a: np.log(a + 1e-20),
    "abs": np.abs,
    "sqrt": np.sqrt,
    "softmax": _softmax,
    "softplus": lambda a: np.logaddexp(0.0, a),
    "sigmoid": lambda a: 0.5 * (1.0 + np.tanh(a / 2.0)),
    "gd": lambda a: 0.5 + np.arctan(np.sinh(np.pi / 4.0 * a)) / np.pi,  # gd(z) = atan(sinh z)
    "alf": lambda a: 0.5 + a / (2.0 * np.sqrt(4.0 + a * a)),
    "erf": lambda a: 0.5 * (1.0 + _erf(SQRT_PI_4 * a)),
    "erfc": lambda a: 0.5 * _erfc(SQRT_PI_4 * a),
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
    "sin": np.sin,
    "cos": np.cos,
}


def test_every_paper_primitive_has_a_reference():
    assert set(REFERENCES) == set(PAPER_PRIMITIVES)


@pytest.mark.parametrize("name", PAPER_PRIMITIVES)
def test_primitive_matches_reference(name, gen):
    prim = PRIMITIVES[name]
    a = torch.randn(7, 9, generator=gen, dtype=torch.float64) * 4.0
    a[0, :6] = torch.tensor([0.0, -0.0, 1e-30, -1e-30, 60.0, -60.0], dtype=torch.float64)
    b = torch.randn(7, 9, generator=gen, dtype=torch.float64) * 4.0
    b[1, :3] = 0.0
    args = (a, b)[: prim.arity]
    got = prim.fn(*args).numpy()
    with np.errstate(all="ignore"):
        want = REFERENCES[name](*(t.numpy() for t in args))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True)


def _f64(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_log_adds_1e_minus_20():
    log = PRIMITIVES["log"].fn
    assert log(_f64(0.0)).item() == pytest.approx(math.log(1e-20), rel=1e-15)
    assert log(_f64(1e-20)).item() == pytest.approx(math.log(2e-20), rel=1e-15)
    assert log(torch.zeros(1)).item() == pytest.approx(-46.0517, abs=1e-3)  # finite in float32 too
    assert math.isnan(log(_f64(-1.0)).item())


def test_div_adds_1e_minus_20_to_the_denominator():
    div = PRIMITIVES["div"].fn
    assert div(_f64(3.0), _f64(0.0)).item() == pytest.approx(3e20, rel=1e-15)
    assert div(_f64(1.0), _f64(1e-20)).item() == pytest.approx(0.5e20, rel=1e-15)
    assert div(_f64(1.0), _f64(4.0)).item() == 0.25
    assert torch.isfinite(div(torch.ones(1), torch.zeros(1))).all()


def test_exp_clamps_at_88():
    exp = PRIMITIVES["exp"].fn
    a = torch.tensor([87.0, 88.0, 100.0, 1e6], requires_grad=True)
    out = exp(a)
    assert torch.isfinite(out).all()  # float32 overflows at exp(88.73)
    assert out[2].item() == out[1].item() == pytest.approx(math.exp(88.0), rel=1e-6)
    out.sum().backward()
    assert a.grad[2].item() == 0.0 and a.grad[3].item() == 0.0 and a.grad[0].item() > 0


def test_sqrt_is_plain():
    sqrt = PRIMITIVES["sqrt"].fn
    assert sqrt(_f64(4.0)).item() == 2.0
    assert math.isnan(sqrt(_f64(-1e-9)).item())


@pytest.mark.parametrize("name", ["gd", "alf", "erf", "erfc", "sigmoid"])
def test_s_curves_range_midpoint_and_slope(name):
    fn = PRIMITIVES[name].fn
    x0 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    y0 = fn(x0)
    (slope,) = torch.autograd.grad(y0.sum(), x0)
    assert y0.item() == pytest.approx(0.5, abs=1e-15)
    sign = -1.0 if name == "erfc" else 1.0  # erfc = 1 - erf falls
    assert slope.item() == pytest.approx(sign * 0.25, abs=1e-12)
    grid = torch.linspace(-8.0, 8.0, 2001, dtype=torch.float64)
    values = fn(grid)
    assert ((values > 0) & (values < 1)).all()
    steps = values.diff() * sign
    assert (steps > 0).all()  # strictly monotone
    wide = fn(torch.tensor([-1e4, -100.0, 100.0, 1e4]))  # float32, far out: the closed range, reaching the limits
    assert ((wide >= 0) & (wide <= 1)).all()
    lo, hi = (1.0, 0.0) if name == "erfc" else (0.0, 1.0)
    assert wide[0].item() == pytest.approx(lo, abs=1e-4) and wide[-1].item() == pytest.approx(hi, abs=1e-4)


def test_erfc_is_one_minus_erf():
    x = torch.linspace(-10, 10, 401, dtype=torch.float64)
    assert torch.allclose(PRIMITIVES["erfc"].fn(x), 1.0 - PRIMITIVES["erf"].fn(x), rtol=0, atol=1e-15)


def test_tanh_is_plain():
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    assert torch.equal(PRIMITIVES["tanh"].fn(x), torch.tanh(x))  # range (-1, 1), not rescaled
    x0 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    y0 = PRIMITIVES["tanh"].fn(x0)
    (g,) = torch.autograd.grad(y0.sum(), x0)
    assert y0.item() == 0.0 and g.item() == 1.0 and PRIMITIVES["tanh"].fn(x).min().item() < -0.99


def test_softmax_over_classes_and_dot(gen):
    x = torch.randn(B, C, generator=gen, dtype=torch.float64) * 10
    s = PRIMITIVES["softmax"].fn(x)
    assert s.shape == (B, C)
    assert torch.allclose(s.sum(dim=-1), torch.ones(B, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(PRIMITIVES["softmax"].fn(x + 100.0), s)  # shift invariance, per row
    y = torch.randn(B, C, generator=gen, dtype=torch.float64)
    d = PRIMITIVES["dot"].fn(x, y)
    assert d.shape == (B, 1)
    assert torch.allclose(d[:, 0], torch.stack([torch.dot(x[k], y[k]) for k in range(B)]))


def test_softplus_has_beta_1():
    assert PRIMITIVES["softplus"].fn(_f64(0.0)).item() == pytest.approx(math.log(2.0), rel=1e-15)
    assert PRIMITIVES["softplus"].fn(_f64(30.0)).item() == pytest.approx(30.0, rel=1e-12)
