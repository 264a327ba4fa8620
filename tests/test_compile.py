"""The torch compiler: output shapes, broadcasting of scalars, autograd, the DAG merge, and input checking."""

from __future__ import annotations

import weakref

import pytest
import torch
from deap import gp

from gp_autoloss import LossInputError, known_loss, parse
from gp_autoloss.compile import CompiledLoss
from primitives import PRIMITIVES, SPACES, UNARY, Input, Scalar, SearchSpace, register_primitive
from tests.conftest import output_shape, realistic_inputs

B, C = 6, 5


def _primitive_count(loss) -> int:
    return sum(isinstance(node, gp.Primitive) for node in loss.tree)


@pytest.mark.parametrize(
    ("space", "formula"),
    [
        ("softmax_cls", "-dot(y, log(softmax(x)))"),
        ("softmax_cls", "dot(x, x)"),
        ("softmax_cls", "w"),
        ("softmax_cls", "w * 2 - 1"),
        ("softmax_cls", "2"),
        ("sigmoid_cls", "x * y + w"),
        ("sigmoid_cls", "sigmoid(x)"),
        ("sigmoid_cls", "w"),
        ("sigmoid_cls", "3"),
        ("iou_reg", "1 - i / u"),
        ("iou_reg", "e"),
        ("iou_reg", "1 + 2"),
    ],
)
def test_output_shape_whatever_inputs_are_used(space, formula, gen):
    inputs = realistic_inputs(space, gen, batch=B, classes=C)
    out = parse(formula, space).to_torch()(**inputs)
    assert out.shape == output_shape(space, batch=B, classes=C)
    assert out.dtype == torch.float64


def test_constant_and_input_only_formulas_have_their_values(gen):
    soft = realistic_inputs("softmax_cls", gen, batch=B, classes=C)
    assert torch.equal(parse("2", "softmax_cls")(**soft), torch.full((B,), 2.0, dtype=torch.float64))
    assert torch.equal(parse("w", "softmax_cls")(**soft), soft["w"])
    assert torch.allclose(parse("dot(x, y)", "softmax_cls")(**soft), (soft["x"] * soft["y"]).sum(dim=1))
    sig = realistic_inputs("sigmoid_cls", gen, batch=B, classes=C)
    assert torch.equal(parse("y", "sigmoid_cls")(**sig), sig["y"])
    assert torch.equal(parse("1 + 2", "iou_reg")(i=torch.zeros(4), u=torch.ones(4), e=torch.ones(4)), torch.full((4,), 3.0))


def test_scalar_broadcasts_over_classes_per_sample(gen):
    """``w`` is one value per sample: given as (B,) or (B, 1), it scales each sample's row."""
    inputs = realistic_inputs("softmax_cls", gen, batch=B, classes=C)
    loss = parse("dot(w * x, y) + w", "softmax_cls")
    want = (inputs["w"][:, None] * inputs["x"] * inputs["y"]).sum(dim=1) + inputs["w"]
    assert torch.allclose(loss(**inputs), want)
    as_column = {**inputs, "w": inputs["w"][:, None]}
    assert torch.allclose(loss(**as_column), want)


def test_sigmoid_space_is_elementwise(gen):
    inputs = realistic_inputs("sigmoid_cls", gen, batch=B, classes=C)
    out = parse("w * x - y", "sigmoid_cls")(**inputs)
    assert torch.allclose(out, inputs["w"] * inputs["x"] - inputs["y"])
    per_sample_w = {**inputs, "w": torch.rand(B, 1, generator=gen, dtype=torch.float64)}
    assert torch.allclose(parse("w * x", "sigmoid_cls")(**per_sample_w), per_sample_w["w"] * inputs["x"])


def test_new_shapes_after_the_first_call(gen):
    """The compiled module remembers output shapes per input shapes; other batch sizes still work."""
    module = known_loss("cse_a_cls").to_torch()
    for batch, classes in [(6, 5), (3, 5), (6, 9), (6, 5), (1, 2)]:
        inputs = realistic_inputs("softmax_cls", gen, batch=batch, classes=classes)
        assert module(**inputs).shape == (batch,)
    reg = parse("2", "iou_reg").to_torch()
    for n in (4, 7, 4):
        assert reg(i=torch.ones(n), u=torch.ones(n), e=torch.ones(n)).shape == (n,)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_follows_the_inputs(dtype, gen):
    inputs = realistic_inputs("iou_reg", gen, batch=B, dtype=dtype)
    module = known_loss("cse_b_reg").to_torch()
    out = module(**inputs)
    assert out.dtype == dtype
    as64 = module(**{k: v.double() for k, v in inputs.items()})
    assert torch.allclose(out.double(), as64, rtol=1e-4)


@pytest.mark.parametrize(
    ("name", "wrt"),
    [("cse_a_cls", ("x", "w")), ("cei", ("x", "w")), ("cse_b_cls", ("x", "w")), ("fli", ("x",)),
     ("giou", ("i", "u", "e")), ("cse_a_reg", ("i", "u", "e")), ("cse_b_reg", ("i", "u", "e"))],
)
def test_autograd_matches_finite_differences(name, wrt, gen):
    loss = known_loss(name)
    inputs = realistic_inputs(loss.space, gen, batch=3, classes=4)
    module = loss.to_torch()

    def fn(*tensors):
        return module(**{**inputs, **dict(zip(wrt, tensors))})

    leaves = tuple(inputs[k].clone().requires_grad_(True) for k in wrt)
    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_dag_merges_shared_subexpressions():
    loss = known_loss("cse_b_cls")
    module = loss.to_torch()
    # sigmoid(x) and w * y appear three times each in the tree; every other subexpression once
    assert loss.to_prefix().count("sigmoid(x)") == 3 and loss.to_prefix().count("mul(w, y)") == 3
    assert module.num_steps == _primitive_count(loss) - 2 - 2 < _primitive_count(loss)
    giou = known_loss("giou")
    assert giou.to_torch().num_steps == _primitive_count(giou)  # nothing to share


@pytest.fixture
def counting_space():
    """A space with a primitive that counts its calls (a real registered primitive)."""
    calls: list[int] = []

    def counted(a: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return a * a

    register_primitive("sq_counted_t", counted, UNARY, doc="a^2, counted")
    space = SearchSpace("counting_t", (Input("a", Scalar), Input("b", Scalar)), Scalar,
                        ("add", "mul", "sub", "sq_counted_t"))
    yield space, calls
    PRIMITIVES.remove("sq_counted_t")


def test_a_shared_subexpression_is_computed_once(counting_space):
    space, calls = counting_space
    a, b = torch.arange(4.0), torch.arange(4.0) + 1
    loss = parse("sq_counted_t(a) + sq_counted_t(a) * sq_counted_t(a) - sq_counted_t(b)", space)
    module = loss.to_torch()
    assert module.num_steps == 5  # sq(a), sq(b), mul, add, sub
    out = module(a=a, b=b)
    assert len(calls) == 2
    assert torch.equal(out, a**2 + a**4 - b**2)
    module(a=a, b=b)
    assert len(calls) == 4


@pytest.fixture
def liveness_probe():
    """A primitive that records, at each call, which of its earlier results are still alive."""
    refs: list[weakref.ref] = []
    alive_at_call: list[list[bool]] = []

    def probe(a: torch.Tensor) -> torch.Tensor:
        alive_at_call.append([r() is not None for r in refs])
        out = a + 1
        refs.append(weakref.ref(out))
        return out

    register_primitive("live_probe_t", probe, UNARY)
    yield SearchSpace("live_t", (Input("a", Scalar),), Scalar, ("add", "live_probe_t")), alive_at_call
    PRIMITIVES.remove("live_probe_t")


def test_intermediates_are_dropped_after_their_last_use(liveness_probe):
    space, alive_at_call = liveness_probe
    module = parse("live_probe_t(live_probe_t(live_probe_t(live_probe_t(a)))) + 1", space).to_torch()
    with torch.no_grad():  # nothing saved for backward: only the module could keep them alive
        out = module(a=torch.zeros(3))
    assert torch.equal(out, torch.full((3,), 5.0))
    # At each call only the argument (the previous result) is alive, not the results before it.
    assert alive_at_call == [[], [True], [False, True], [False, False, True]]


def test_input_errors(gen):
    module = known_loss("cse_a_cls").to_torch()
    inputs = realistic_inputs("softmax_cls", gen, batch=B, classes=C)
    with pytest.raises(LossInputError, match=r"missing \['w'\]"):
        module(x=inputs["x"], y=inputs["y"])
    with pytest.raises(LossInputError, match=r"unexpected \['z'\]"):
        module(**inputs, z=inputs["w"])
    with pytest.raises(LossInputError, match="must be a torch.Tensor"):
        module(**{**inputs, "w": 0.5})
    with pytest.raises(LossInputError, match="do not broadcast"):
        module(**{**inputs, "w": torch.ones(B + 1)})
    sig = known_loss("fli").to_torch()
    with pytest.raises(LossInputError, match="do not broadcast"):
        sig(x=torch.zeros(4, 3), y=torch.zeros(4, 3), w=torch.zeros(4))  # w must be (B, C) or (B, 1)
    reg = known_loss("giou").to_torch()
    with pytest.raises(LossInputError, match=r"i: \(3,\), u: \(4,\)"):
        reg(i=torch.ones(3), u=torch.ones(4), e=torch.ones(4))


def test_module_api(gen):
    loss = known_loss("giou")
    module = loss.to_torch()
    assert isinstance(module, torch.nn.Module) and isinstance(module, CompiledLoss)
    assert list(module.parameters()) == [] and module.state_dict() == {}
    assert "giou" not in repr(module) and str(loss) in repr(module) and "steps=5" in repr(module)
    inputs = realistic_inputs("iou_reg", gen, batch=B)
    assert torch.equal(loss(**inputs), module(**inputs))  # Loss.__call__ uses the same compiled module
    with torch.no_grad():
        assert module(**inputs).grad_fn is None


def test_compiled_loss_for_every_space_and_known_loss(gen):
    """Each registered space's initial loss compiles and gives finite values on realistic inputs."""
    from gp_autoloss import initial_loss

    for space in ("softmax_cls", "sigmoid_cls", "iou_reg"):
        loss = initial_loss(space)
        out = loss(**realistic_inputs(space, gen, batch=B, classes=C))
        assert out.shape == output_shape(SPACES[space], batch=B, classes=C)
        assert torch.isfinite(out).all()
