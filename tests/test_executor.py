"""The executor registry and the capability declaration. What every executor must do (faults become failed
results, time and memory limits, dying workers) is the contract suite, tests/test_contract_executors.py."""

from __future__ import annotations

import pytest

from gp_autoloss.errors import ConfigError
from gp_autoloss.execution import Executor, create_executor
from gp_autoloss.execution.base import AdapterSpec, executor_names


def test_unknown_executor():
    with pytest.raises(ConfigError, match="unknown executor"):
        create_executor("nope", AdapterSpec("toy", "iou_reg"))


def test_the_built_in_executors_are_named_without_importing_ray():
    assert {"local", "ray"} <= set(executor_names())


def test_an_unknown_capability_is_refused_when_the_class_is_made():
    with pytest.raises(TypeError, match="unknown capabilities"):
        type("Boasting", (Executor,), {"capabilities": frozenset({"time_limit", "teleport"}), "run": lambda s, j: iter(())})
