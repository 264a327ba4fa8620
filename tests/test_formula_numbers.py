"""Numbers in a user's formula (issue 14.7): any finite number is accepted, round-trips and survives variation.

The search generates only a space's constants (the paper: 1, 2, 3); a formula a user writes, checks, renders,
exports or starts a search from may hold any finite number. Hostile numbers get one clear error.
"""

from __future__ import annotations

import random

import pytest
import torch
from deap import gp

from gp_autoloss import FormulaError, Loss, parse
from gp_autoloss.cli.main import EXIT_BAD_INPUT, main
from gp_autoloss.search.variation import MUTATIONS, Breeder, one_point_crossover

#: the authors' simplified CSE-Autoloss-B regression loss (paper 4.1), constants 12, 15, 18 and 5 included
CSE_B_REG_SIMPLIFIED = "(3*e*u + 12*e + 3*i + 3*u + 18) / (-3*e*u + i*u + u*u - 15*e + 5*i + 5*u)"

NUMBERS = [
    ("4 * i", "iou_reg"),
    ("i / 0.5", "iou_reg"),
    ("i + 1e5", "iou_reg"),
    ("0 - i", "iou_reg"),
    ("0.25 * (1 - i / u)", "iou_reg"),
    ("i * 1e20 + 1e-300", "iou_reg"),
    ("i * 123456789012345678", "iou_reg"),
    ("0.1 + 0.2 * i", "iou_reg"),
    ("-dot(0.25 * w * y, log(softmax(x)))", "softmax_cls"),
    ("-(0.75 * y * log(sigmoid(x)) + 12 * (1 - y) * log(1 - sigmoid(x)))", "sigmoid_cls"),
    (CSE_B_REG_SIMPLIFIED, "iou_reg"),
]


@pytest.mark.parametrize(("text", "space"), NUMBERS)
def test_any_finite_number_parses_and_round_trips(text, space):
    loss = parse(text, space)
    again = parse(str(loss), space)
    assert again == loss and again.to_prefix() == loss.to_prefix()
    assert parse(loss.to_prefix(), space) == loss
    # the DEAP tree itself carries the number: a Loss rebuilt from a copy of the tree is the same loss
    assert Loss(gp.PrimitiveTree(list(loss.tree)), space) == loss


def test_numbers_keep_their_value_when_compiled():
    loss = parse("0.25 * i + 12", "iou_reg")
    i = torch.tensor([1.0, 2.0], dtype=torch.float64)
    out = loss.to_torch()(i=i, u=torch.ones(2, dtype=torch.float64), e=torch.ones(2, dtype=torch.float64))
    assert torch.allclose(out, 0.25 * i + 12)


def test_the_papers_simplified_cse_b_reg_equals_its_formula():
    loss = parse(CSE_B_REG_SIMPLIFIED, "iou_reg")
    gen = torch.Generator().manual_seed(0)
    i, u, e = (torch.rand(32, generator=gen, dtype=torch.float64) + 0.1 for _ in range(3))
    expected = (3 * e * u + 12 * e + 3 * i + 3 * u + 18) / (-3 * e * u + i * u + u * u - 15 * e + 5 * i + 5 * u)
    assert torch.allclose(loss.to_torch()(i=i, u=u, e=e), expected)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("i + 1e400", "too large"),
        ("i * " + "9" * 5000, "too large"),
        ("i + 1e-400", "too small"),
        ("i + nan", "unknown name 'nan'"),
        ("i + inf", "unknown name 'inf'"),
    ],
)
def test_hostile_numbers_get_a_clear_error(text, words):
    with pytest.raises(FormulaError) as info:
        parse(text, "iou_reg")
    assert words in str(info.value)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_a_non_finite_constant_in_a_deap_tree_is_refused():
    tree = parse("i + 2", "iou_reg").tree
    nodes = list(tree)
    nodes[-1] = gp.Terminal(float("nan"), False, nodes[-1].ret)
    with pytest.raises(ValueError, match="not a finite number"):
        _ = Loss(gp.PrimitiveTree(nodes), "iou_reg").expr


def test_variation_works_on_trees_with_any_number():
    space = parse("i", "iou_reg").space
    parents = [(parse(CSE_B_REG_SIMPLIFIED, space), 0.5), (parse("0.25 * (1 - i / u) + 7.5", space), 0.4)]
    rng = random.Random(3)
    for _ in range(50):  # every mutation operator, and crossover, on the raw trees
        for name in sorted(MUTATIONS):
            tree = gp.PrimitiveTree(list(parents[rng.randrange(2)][0].tree))
            random.seed(rng.random())
            mutated = MUTATIONS[name](tree, space, rng)
            child = Loss(mutated, space)
            assert parse(str(child), space) == child
        a, b = (gp.PrimitiveTree(list(p.tree)) for p, _ in parents)
        for tree in one_point_crossover(a, b, rng):
            child = Loss(tree, space)
            assert parse(str(child), space) == child
    breeder = Breeder(space, max_depth=12, max_size=80, p_crossover=0.5, p_mutation=0.8)
    known: set[str] = set()
    children = breeder.breed(parents, 30, random.Random(0), known)
    assert len(children) == 30
    texts = " ".join(str(c.loss) for c in children)
    assert any(n in texts for n in ("12", "15", "18", "0.25", "7.5")), texts  # the user's numbers live on
    for c in children:
        assert parse(str(c.loss), space) == c.loss


@pytest.mark.parametrize("command", ["show", "check", "render"])
def test_cli_commands_accept_a_formula_with_numbers(command, tmp_path, capsys):
    extra = ["-o", str(tmp_path / "b.dot")] if command == "render" else []
    rc = main([command, CSE_B_REG_SIMPLIFIED, "--space", "iou_reg", *extra])
    out, err = capsys.readouterr()
    assert rc in (0, 1), err  # check may fail the loss on its merits, never on its numbers
    assert "not in space" not in out + err and rc != EXIT_BAD_INPUT


def test_a_search_starts_from_a_formula_with_any_number(tmp_path):
    """The initial loss keeps its numbers through the run file, the workers (which parse the prefix text) and
    the offspring bred from it."""
    from gp_autoloss.search import RunStorage, SearchConfig, SearchEngine

    cfg = SearchConfig(space="iou_reg", strategy="vanilla", adapter="faulty", plugins=["tests.fault_plugin"],
                       generations=1, population=6, parents=2, top_k=2, time_limit=20.0,
                       initial_formula="0.25 * (1 - i / u) + 12")  # fmt: skip
    engine = SearchEngine.create(cfg, tmp_path / "run")
    try:
        summary = engine.run()
    finally:
        engine.close()
    assert summary.initial_formula == "0.25 * (1 - i / u) + 12" and summary.initial_metric is not None
    store = RunStorage.open(tmp_path / "run")
    try:
        rows = store.results_table()
    finally:
        store.close()
    assert len(rows) == 7
    for row in rows:
        loss = parse(row["prefix"], "iou_reg")
        assert str(loss) == row["formula"] and parse(row["formula"], "iou_reg") == loss
