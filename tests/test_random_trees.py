"""10,000 random trees per space: text round trips, compilation, and the DAG merge against a plain tree walk."""

from __future__ import annotations

import random

import pytest
import torch
from deap import gp

from gp_autoloss import parse, random_loss, random_tree
from gp_autoloss.generate import DEFAULT_MAX_SIZE
from primitives import SPACES, SearchSpace
from tests.conftest import N_RANDOM_TREES, output_shape, realistic_inputs

SPACE_NAMES = ["softmax_cls", "sigmoid_cls", "iou_reg"]
B, C = 6, 5
N_WALKED = 2_500  # trees also evaluated node by node (all of them are compiled and run)


def _tree_walk(sp: SearchSpace, tree: gp.PrimitiveTree, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Evaluate a DEAP tree node by node with the space's primitive functions, nothing merged."""
    values = dict(inputs)
    if sp.has_vectors:
        values = {k: v.unsqueeze(-1) if sp.input_map[k].type.__name__ == "Scalar" else v for k, v in values.items()}
    ref = next(iter(inputs.values()))
    stack: list[torch.Tensor] = []
    for node in reversed(tree):  # prefix order read backwards: arguments are on the stack
        if isinstance(node, gp.Primitive):
            args = [stack.pop() for _ in range(node.arity)]
            stack.append(sp.overloads[node.name].primitive.fn(*args))
        elif isinstance(node.value, str):
            stack.append(values[node.value])
        else:
            stack.append(torch.tensor(float(node.value), dtype=ref.dtype))
    (out,) = stack
    shapes = [v.shape for v in values.values()]
    if sp.has_vectors:  # one value per sample
        shapes = [s[:-1] + (1,) for s in shapes]
        return out.expand(torch.broadcast_shapes(*shapes)).squeeze(-1)
    return out.expand(torch.broadcast_shapes(*shapes))


def _distinct_primitive_subtrees(tree: gp.PrimitiveTree) -> int:
    """How many different subtrees rooted at a primitive the tree has (DEAP's own slicing)."""
    names = [node.name for node in tree]
    return len({tuple(names[tree.searchSubtree(k)]) for k, node in enumerate(tree) if isinstance(node, gp.Primitive)})


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())


@pytest.mark.parametrize("space", SPACE_NAMES)
def test_random_trees_round_trip(space, random_losses):
    losses = random_losses(space)
    assert len(losses) == N_RANDOM_TREES
    assert len({loss.key for loss in losses}) > N_RANDOM_TREES // 4  # varied, not one tree again and again
    for loss in losses:
        assert loss.size <= DEFAULT_MAX_SIZE and loss.depth <= 6
        infix, prefix = str(loss), loss.to_prefix()
        from_infix, from_prefix = parse(infix, space), parse(prefix, space)
        assert from_infix == loss and from_prefix == loss, infix
        assert [n.name for n in from_infix.tree] == [n.name for n in loss.tree], infix  # overload by overload
        assert str(from_infix) == infix and from_prefix.to_prefix() == prefix


@pytest.mark.parametrize("space", SPACE_NAMES)
def test_random_trees_compile_and_match_a_plain_tree_walk(space, random_losses):
    """Compiling never raises (NaN/inf values are fine), gives the space's shape and the tree's values."""
    sp = SPACES[space]
    inputs = realistic_inputs(space, torch.Generator().manual_seed(3), batch=B, classes=C)
    want_shape = output_shape(space, batch=B, classes=C)
    shared = 0
    for k, loss in enumerate(random_losses(space)):
        module = loss.to_torch()
        out = module(**inputs)
        assert out.shape == want_shape, str(loss)
        assert out.dtype == torch.float64
        if k < N_WALKED:
            assert _same(out, _tree_walk(sp, loss.tree, inputs)), str(loss)
        n_prims = sum(isinstance(node, gp.Primitive) for node in loss.tree)
        assert module.num_steps == _distinct_primitive_subtrees(loss.tree), str(loss)
        if module.num_steps < n_prims:
            shared += 1
    assert shared > 0  # some trees repeat a subexpression, so the merge was exercised


@pytest.mark.parametrize("space", SPACE_NAMES)
def test_random_trees_backpropagate(space, random_losses):
    gen = torch.Generator().manual_seed(4)
    for loss in random_losses(space)[:1000]:
        inputs = realistic_inputs(space, gen, batch=B, classes=C)
        for t in inputs.values():
            t.requires_grad_(True)
        out = loss(**inputs)
        used = {node.value for node in loss.tree if isinstance(node, gp.Terminal) and isinstance(node.value, str)}
        if not used:
            assert out.grad_fn is None  # a constant
            continue
        out.sum().backward()
        for name, t in inputs.items():
            assert (t.grad is not None) == (name in used), (str(loss), name)
            assert t.grad is None or t.grad.shape == t.shape


@pytest.mark.parametrize("space", SPACE_NAMES)
def test_generation_is_deterministic_per_seed(space):
    first = [random_loss(space, random.Random(11)).key for _ in range(3)]
    again = [random_loss(space, random.Random(11)).key for _ in range(3)]
    assert first == again
    rng = random.Random(11)
    assert len({random_loss(space, rng).key for _ in range(50)}) > 10


@pytest.mark.parametrize("space", SPACE_NAMES)
def test_generation_limits(space):
    rng = random.Random(5)
    sp = SPACES[space]
    terminals = {i.name for i in sp.inputs} | {str(c) for c in sp.constants}
    for _ in range(50):
        tree = random_tree(space, rng, min_depth=0, max_depth=0)
        assert len(tree) == 1 and tree[0].name in terminals | {"ARG0", "ARG1", "ARG2"}
    for _ in range(50):
        full = random_tree(space, rng, min_depth=3, max_depth=3, method="full", max_size=1000)
        assert full.height == 3
    for _ in range(50):
        assert len(random_tree(space, rng, max_size=1)) == 1  # falls back to a terminal of the output type
    with pytest.raises(ValueError):
        random_tree(space, rng, min_depth=4, max_depth=2)
