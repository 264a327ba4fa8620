"""Typed variation: DEAP crossover and several mutations, with size/depth limits and novelty.

Every operator runs on DEAP's ``PrimitiveTree`` over the space's typed primitive set, so offspring are
well-typed by construction. An offspring that breaks a limit, repeats a known formula or makes a DEAP
operator raise (typed operators raise ``IndexError`` when no node of a type fits) is discarded and the
draw retried -- the search never crashes on typing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from deap import gp

from gp_autoloss.generate import _generate
from gp_autoloss.loss import Loss
from gp_autoloss.search.rng import lend_global_random
from primitives import SearchSpace

__all__ = ["Breeder", "Offspring", "MUTATIONS", "one_point_crossover"]

MAX_TRIES_PER_CHILD = 200


@dataclass(frozen=True)
class Offspring:
    """A new candidate with how it was made."""

    loss: Loss
    origin: str
    parents: tuple[str, ...]


def one_point_crossover(
    tree1: gp.PrimitiveTree, tree2: gp.PrimitiveTree, rng: random.Random
) -> tuple[gp.PrimitiveTree, gp.PrimitiveTree]:
    """Typed one-point crossover: swap two random subtrees of the same type (roots excluded).

    Same operator as DEAP's ``cxOnePoint``, but DEAP draws the type from a ``set`` of classes, whose order
    follows their memory addresses and so differs between processes; here types are drawn in name order,
    which keeps a seeded search identical across processes (and across a kill and ``--resume``).
    """
    if len(tree1) < 2 or len(tree2) < 2:
        return tree1, tree2
    where1: dict[type, list[int]] = {}
    where2: dict[type, list[int]] = {}
    for idx in range(1, len(tree1)):
        where1.setdefault(tree1[idx].ret, []).append(idx)
    for idx in range(1, len(tree2)):
        where2.setdefault(tree2[idx].ret, []).append(idx)
    common = sorted(set(where1) & set(where2), key=lambda t: t.__name__)
    if not common:
        return tree1, tree2
    type_ = rng.choice(common)
    slice1 = tree1.searchSubtree(rng.choice(where1[type_]))
    slice2 = tree2.searchSubtree(rng.choice(where2[type_]))
    tree1[slice1], tree2[slice2] = tree2[slice2], tree1[slice1]
    return tree1, tree2


def _mut_uniform(tree: gp.PrimitiveTree, space: SearchSpace, rng: random.Random) -> gp.PrimitiveTree:
    # Runs inside lend_global_random: the global module *is* the run's stream here.
    def expr(pset: gp.PrimitiveSetTyped, type_: type) -> list:
        return _generate(pset, random, random.randint(0, 2), 0, False, type_)  # type: ignore[arg-type]

    return gp.mutUniform(tree, expr=expr, pset=space.pset)[0]


def _mut_node(tree: gp.PrimitiveTree, space: SearchSpace, rng: random.Random) -> gp.PrimitiveTree:
    return gp.mutNodeReplacement(tree, pset=space.pset)[0]


def _mut_shrink(tree: gp.PrimitiveTree, space: SearchSpace, rng: random.Random) -> gp.PrimitiveTree:
    return gp.mutShrink(tree)[0]


def _mut_insert(tree: gp.PrimitiveTree, space: SearchSpace, rng: random.Random) -> gp.PrimitiveTree:
    return gp.mutInsert(tree, pset=space.pset)[0]


#: mutation operators by name: (tree, space, rng) -> tree (mutated in place or new)
MUTATIONS: dict[str, Callable[[gp.PrimitiveTree, SearchSpace, random.Random], gp.PrimitiveTree]] = {
    "uniform": _mut_uniform,
    "node": _mut_node,
    "shrink": _mut_shrink,
    "insert": _mut_insert,
}


class Breeder:
    """Makes new, well-typed, size-limited offspring from parents.

    Args:
        space: the search space.
        max_depth, max_size: limits applied to every offspring (DEAP's ``staticLimit`` idea, on mate and
            mutate alike).
        p_crossover, p_mutation: the paper's p1 and p2.
        tournament_size: selection pressure among parents.
    """

    def __init__(self, space: SearchSpace, *, max_depth: int, max_size: int, p_crossover: float, p_mutation: float,
                 tournament_size: int = 3) -> None:  # fmt: skip
        self.space = space
        self.max_depth = max_depth
        self.max_size = max_size
        self.p_crossover = p_crossover
        self.p_mutation = p_mutation
        self.tournament_size = tournament_size

    def _fits(self, tree: gp.PrimitiveTree) -> bool:
        return len(tree) <= self.max_size and tree.height <= self.max_depth

    def _tournament(self, parents: Sequence[tuple[Loss, float]], rng: random.Random) -> Loss:
        k = min(self.tournament_size, len(parents))
        contenders = rng.sample(range(len(parents)), k)
        best = max(contenders, key=lambda i: (parents[i][1], -i))
        return parents[best][0]

    def _one(self, parents: Sequence[tuple[Loss, float]], rng: random.Random) -> tuple[gp.PrimitiveTree, str, tuple[str, ...]]:
        first = self._tournament(parents, rng)
        tree = gp.PrimitiveTree(list(first.tree))
        used = [first.key]
        ops = []
        if len(parents) > 1 and rng.random() < self.p_crossover:
            second = self._tournament(parents, rng)
            other = gp.PrimitiveTree(list(second.tree))
            tree, _ = one_point_crossover(tree, other, rng)
            used.append(second.key)
            ops.append("crossover")
        if not ops or rng.random() < self.p_mutation:
            name = rng.choice(sorted(MUTATIONS))
            with lend_global_random(rng):
                tree = MUTATIONS[name](tree, self.space, rng)
            ops.append(f"mutation:{name}")
        return tree, "+".join(ops), tuple(dict.fromkeys(used))

    def breed(self, parents: Sequence[tuple[Loss, float]], n: int, rng: random.Random, known: set[str]) -> list[Offspring]:
        """``n`` new offspring (keys not in ``known``; ``known`` is updated).

        ``parents`` are ``(loss, fitness)`` pairs; tournament selection prefers higher fitness. If the
        parents cannot produce a new child in many tries, a fresh random tree fills the slot.
        """
        from gp_autoloss.generate import random_tree

        out: list[Offspring] = []
        for _ in range(n):
            child = None
            for _ in range(MAX_TRIES_PER_CHILD):
                try:
                    tree, origin, used = self._one(parents, rng)
                except (IndexError, ValueError, TypeError):
                    continue  # a typed operator found no node of a type: draw again
                if not self._fits(tree):
                    continue
                loss = Loss(tree, self.space)
                if loss.key in known:
                    continue
                child = Offspring(loss, origin, used)
                break
            if child is None:
                for _ in range(MAX_TRIES_PER_CHILD):
                    loss = Loss(random_tree(self.space, rng, max_depth=min(6, self.max_depth),
                                            max_size=self.max_size), self.space)  # fmt: skip
                    if loss.key not in known:
                        child = Offspring(loss, "random", ())
                        break
            if child is None:
                break  # the space is exhausted at these limits
            known.add(child.loss.key)
            out.append(child)
        return out

    def random(self, n: int, rng: random.Random, known: set[str]) -> list[Offspring]:
        """``n`` new random trees (the random-search baseline)."""
        from gp_autoloss.generate import random_tree

        out: list[Offspring] = []
        for _ in range(n * MAX_TRIES_PER_CHILD):
            if len(out) == n:
                break
            loss = Loss(random_tree(self.space, rng, max_depth=min(6, self.max_depth), max_size=self.max_size),
                        self.space)  # fmt: skip
            if loss.key in known:
                continue
            known.add(loss.key)
            out.append(Offspring(loss, "random", ()))
        return out
