"""The contract of the :class:`~gp_autoloss.fitness.FitnessAdapter` extension point, over every adapter and space.

The adapters are collected from the registry when this module is imported: ``toy`` (each of its spaces), the
installed plugins' (the example plugin's ``seg_blobs``; ``mmdet``, marked ``mmdet``), the test adapter ``faulty``
and those of the modules named in ``GP_AUTOLOSS_PLUGINS``. A new adapter is tested without editing this file::

    GP_AUTOLOSS_PLUGINS=my_plugin pytest tests/test_contract_adapters.py -k my_adapter

What every adapter must do: ``verify`` and ``proxy`` give the same metric for the same seed (from a fresh adapter
too); a candidate that breaks training raises :class:`~gp_autoloss.fitness.CandidateFailed`; a bad option value
or an unknown option is a one-line :class:`~gp_autoloss.errors.ConfigError` naming it (bad values are made from
the adapter's declared options); ``describe()`` records options that build the same adapter again.

**Contract settings.** A contract run needs small options (seconds, not minutes) and a formula whose training
fails in each space. An adapter gives them with a classmethod ``contract_case(space, workdir)`` on its options
declaration (or on its class) returning ``{"options": {...}, "failing": "formula"}`` (``workdir``: a directory
for data it must generate, shared by the adapter's tests); see ``SegOptions.contract_case`` in
``examples/segmentation``. The built-in adapters' settings are in :data:`CONTRACT_CASES`. An adapter without
settings runs with its defaults, and the failing-candidate item is skipped.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import tests.fault_plugin  # noqa: F401  (registers the faulty test adapter)
from gp_autoloss import known_loss, parse
from gp_autoloss.errors import ConfigError
from gp_autoloss.fitness import CandidateFailed, FitnessAdapter, create_adapter
from gp_autoloss.fitness.base import ADAPTERS, adapter_options_class, load_adapters
from gp_autoloss.fitness.options import option_names
from gp_autoloss.options import OptionInfo, Options
from gp_autoloss.plugins import load_plugins
from primitives import get_space
from tests.conftest import example_plugins

load_plugins(example_plugins())  # installed plugins, GP_AUTOLOSS_PLUGINS's and the example: their adapters are collected below
load_adapters()

ContractCase = Callable[[str, Path], dict[str, Any]]

_TOY_SMALL = {"train_size": 256, "val_size": 128, "batch_size": 0, "steps": 5, "verify_size": 64, "verify_steps": 3}
_TOY_FAILING = {"softmax_cls": "dot(y, log(x - x - 1))", "sigmoid_cls": "log(x - 3)", "iou_reg": "log(i - u - 1)"}


def _toy_case(space: str, workdir: Path) -> dict[str, Any]:
    """toy: a few hundred boxes, a few steps; a loss that is NaN from the first step."""
    return {"options": dict(_TOY_SMALL), "failing": _TOY_FAILING[space]}


def _faulty_case(space: str, workdir: Path) -> dict[str, Any]:
    """faulty: its documented failure path, the ``refuse`` option."""
    return {"options": {"refuse": "tanh("}, "failing": "tanh(i)"}


def _mmdet_case(space: str, workdir: Path) -> dict[str, Any]:
    """mmdet: a generated dataset of 16 + 8 images, one epoch, one thread; a loss NaN at the first iteration."""
    pytest.importorskip("mmdet")
    from detectors_adapter.data import generate_dataset

    root = workdir / "shapes"
    if not (root / "annotations" / "val.json").is_file():
        generate_dataset(root, n_train=16, n_val=8, seed=0)
    return {"options": {"data_root": str(root), "epochs": 1, "verify_epochs": 1, "threads": 1, "time_limit": 300},
            "failing": "log(x - 3)"}  # fmt: skip


#: adapter -> its contract settings, for the adapters that cannot carry a ``contract_case`` hook themselves
CONTRACT_CASES: dict[str, ContractCase] = {"toy": _toy_case, "faulty": _faulty_case, "mmdet": _mmdet_case}
#: adapter -> the spaces its contract runs in, where not its ``spaces`` (any space: ``faulty``; costly: ``mmdet``)
CONTRACT_SPACES: dict[str, tuple[str, ...]] = {"faulty": ("iou_reg",), "mmdet": ("sigmoid_cls",)}
#: adapter -> pytest marks of its cases
MARKS: dict[str, tuple[pytest.MarkDecorator, ...]] = {"mmdet": (pytest.mark.mmdet,)}


def contract_case(adapter: str, space: str, workdir: Path) -> dict[str, Any]:
    """``{"options": ..., "failing": ...}`` of ``adapter`` in ``space``: its declaration's (or class's)
    ``contract_case`` hook, else :data:`CONTRACT_CASES`, else its defaults and no failing formula."""
    factory = ADAPTERS.get(adapter)
    for owner in (getattr(factory, "options_class", None), factory):
        hook = getattr(owner, "contract_case", None)
        if callable(hook):
            return {"options": {}, "failing": None, **hook(space, workdir)}
    if adapter in CONTRACT_CASES:
        return {"options": {}, "failing": None, **CONTRACT_CASES[adapter](space, workdir)}
    return {"options": {}, "failing": None}


def adapter_spaces(adapter: str) -> tuple[str, ...]:
    """The spaces ``adapter``'s contract runs in: :data:`CONTRACT_SPACES`, else the spaces it declares."""
    if adapter in CONTRACT_SPACES:
        return CONTRACT_SPACES[adapter]
    return tuple(getattr(ADAPTERS.get(adapter), "spaces", ()) or ())


def adapter_cases() -> list[Any]:
    """One pytest parameter ``(adapter, space)`` per registered adapter and space (skipped without a space)."""
    out = []
    for name in ADAPTERS.names():
        spaces = adapter_spaces(name)
        if not spaces:
            out.append(pytest.param((name, None), id=name, marks=pytest.mark.skip(
                reason=f"adapter {name!r} declares no spaces; add it to CONTRACT_SPACES")))  # fmt: skip
        out += [pytest.param((name, s), id=f"{name}-{s}", marks=MARKS.get(name, ())) for s in spaces]
    return out


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``workdirs(adapter)``: one directory per adapter for this module (generated data is made once)."""
    made: dict[str, Path] = {}

    def get(adapter: str) -> Path:
        if adapter not in made:
            made[adapter] = tmp_path_factory.mktemp(f"contract-{adapter}")
        return made[adapter]

    return get


@pytest.fixture(params=adapter_cases())
def case(request: pytest.FixtureRequest, workdirs: Callable[[str], Path]) -> dict[str, Any]:
    """An adapter, a space and its contract settings: ``{"adapter", "space", "options", "failing"}``."""
    adapter, space = request.param
    return {"adapter": adapter, "space": space, **contract_case(adapter, space, workdirs(adapter))}


def build(case: dict[str, Any], **options: Any) -> FitnessAdapter:
    """The case's adapter with its contract options (``options`` override them)."""
    return create_adapter(case["adapter"], case["space"], **{**case["options"], **options})


def declared(case: dict[str, Any]) -> type[Options] | None:
    """The case's adapter's options declaration (``None``: it declares names only)."""
    return adapter_options_class(case["adapter"])


def plain_types(annotation: Any) -> tuple[Any, ...]:
    """The plain types an option's annotation allows (``float | None`` -> ``(float, NoneType)``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(k for arg in typing.get_args(annotation) for k in plain_types(arg))
    return (typing.get_origin(annotation) or annotation,)


def bad_values(info: OptionInfo) -> list[Any]:
    """Values option ``info`` must refuse: of a wrong type, and outside its bounds, choices or pattern."""
    kinds = set(plain_types(info.type))
    if Any in kinds:
        return []
    m = info.meta
    out: list[Any] = [["a", "list"]] if list not in kinds else [{"not": "a list"}]
    if m.choices is not None:
        out.append("no-such-choice" if str in kinds else -12345)
    if m.pattern is not None:
        out.append("!! matches no pattern !!")
    number = int if int in kinds else float if float in kinds else None
    if number is not None:
        step = 1 if number is int else 0.5
        if m.ge is not None:
            out.append(number(m.ge - step))
        if m.gt is not None:
            out.append(number(m.gt))
        if m.le is not None:
            out.append(number(m.le + step))
        if m.lt is not None:
            out.append(number(m.lt))
    return out


def _metric(adapter: FitnessAdapter, stage: str, formula: Any, seed: int) -> float:
    return float(getattr(adapter, stage)(formula, seed))


# ---- the contract ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["verify", "proxy"])
def test_the_same_seed_gives_the_same_metric(case, stage):
    initial = get_space(case["space"]).initial_loss
    if initial is None:
        pytest.skip(f"space {case['space']!r} has no initial loss to score")
    loss = known_loss(initial)
    with closing(build(case)) as first:
        metric = _metric(first, stage, loss, 7)
        assert math.isfinite(metric), f"{case['adapter']} {stage}: the initial loss scores {metric}"
    with closing(build(case)) as fresh:  # a fresh adapter, as in another worker or a resumed run
        assert _metric(fresh, stage, loss, 7) == metric


@pytest.mark.parametrize("stage", ["verify", "proxy"])
def test_a_candidate_that_breaks_training_raises_candidate_failed(case, stage):
    if case["failing"] is None:
        pytest.skip(f"adapter {case['adapter']!r} gives no failing formula (contract_case)")
    loss = parse(case["failing"], case["space"])
    with closing(build(case)) as adapter:
        with pytest.raises(CandidateFailed) as info:
            _metric(adapter, stage, loss, 0)
    assert str(info.value).strip()


def test_an_unknown_option_is_a_one_line_config_error(case):
    with pytest.raises(ConfigError) as info:
        build(case, contract_no_such_option=1)
    text = str(info.value)
    assert "contract_no_such_option" in text and len(text.splitlines()) == 1


def test_bad_option_values_are_one_line_config_errors_naming_the_option(case):
    options = declared(case)
    if options is None:
        pytest.skip(f"adapter {case['adapter']!r} declares option names only (no options_class)")
    tried = 0
    for info in options.infos():
        for value in bad_values(info):
            with pytest.raises(ConfigError) as err:
                build(case, **{info.name: value}).close()
            text = str(err.value)
            assert info.name in text and len(text.splitlines()) == 1, (info.name, value, text)
            tried += 1
    assert tried >= len(options.infos())  # at least one bad value per option


def test_describe_records_options_that_build_the_same_adapter(case):
    with closing(build(case)) as adapter:
        described = adapter.describe()
    assert described["adapter"] == case["adapter"] and described["space"] == case["space"]
    names = option_names(type(adapter))
    record = {k: v for k, v in described.items() if k in names}
    assert {k: record.get(k) for k in case["options"]} == case["options"]  # what was given is recorded
    options = declared(case)
    if options is not None:  # the record is complete: it parses back to itself
        assert options.parse(record, owner="test", space=case["space"]).record(case["space"]) == record
    with closing(create_adapter(case["adapter"], case["space"], **record)) as again:
        assert again.describe() == described
