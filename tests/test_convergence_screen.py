"""The convergence check's fast screen and its diagnostic path give the same verdict (issue 13, item 1).

``curve_check`` takes its verdict from ``curve_screen`` and the reason of a failure from ``curve_diagnosis``;
the two are written separately, so they are held together here on 10,000 random trees per space and on
offspring of the space's known losses (which, unlike most random trees, reach the gradient and change tests).
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch

from gp_autoloss import parse
from gp_autoloss.checks import check_convergence, evaluate, get_probes
from gp_autoloss.checks.convergence import curve_check, curve_diagnosis, curve_screen
from gp_autoloss.known import KNOWN_LOSSES, known_loss
from gp_autoloss.search.variation import Breeder
from primitives import SPACES

SPACE_NAMES = ["softmax_cls", "sigmoid_cls", "iou_reg"]
N_OFFSPRING = 2_000


def _offspring(space: str) -> list:
    """Children of the space's known losses, bred as the search breeds them (crossover and mutations)."""
    parents = [(known_loss(name), 1.0) for name, entry in KNOWN_LOSSES.items() if entry.space == space]
    breeder = Breeder(SPACES[space], max_depth=8, max_size=40, p_crossover=0.5, p_mutation=0.5)
    known = {p.key for p, _ in parents}
    return [o.loss for o in breeder.breed(parents, N_OFFSPRING, random.Random(f"screen:{space}"), known)]


@pytest.mark.parametrize("space", SPACE_NAMES)
def test_screen_and_diagnosis_agree(space, random_losses):
    torch.set_num_threads(1)
    losses = list({loss.key: loss for loss in random_losses(space) + _offspring(space)}.values())
    outcomes: Counter[str] = Counter()
    for loss in losses:
        screen = curve_screen(evaluate(loss))
        diagnosis = curve_diagnosis(evaluate(loss))
        assert screen == diagnosis.passed, f"{loss}: screen says {screen}, diagnosis says {diagnosis.reason!r}"
        outcomes["pass" if screen else diagnosis.details.get("property", "?")] += 1
    # not vacuous: every stage of the check decides some candidates
    assert outcomes["pass"] >= 10 and outcomes["monotonicity"] >= 100, outcomes
    if get_probes(space).curves.grad_input is not None:  # the classification curves also read the gradient
        assert outcomes["convergence"] + outcomes["gradient"] >= 10, outcomes


def test_a_non_finite_gradient_on_a_curve_is_named():
    """0 * sqrt(x * x) adds nothing to the values but a NaN gradient at x = 0 (inf * 0): the screen failed it
    while the diagnosis found nothing wrong, and the check said only "gradient check failed"."""
    loss = parse("-(y * log(sigmoid(x))) + (1 - y) * softplus(x) + 0 * sqrt(x * x)", "sigmoid_cls")
    result = check_convergence(loss)
    assert not result.passed and result.reason.startswith("dL/dscore is nan at score 0"), result.reason
    assert result == curve_check(evaluate(loss)) and result.details["property"] == "gradient"
