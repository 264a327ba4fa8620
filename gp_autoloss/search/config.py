"""Search configuration: a dataclass built from a config file plus command-line overrides."""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

from gp_autoloss.errors import ConfigError, GpAutolossError
from gp_autoloss.limits import MAX_DEPTH
from gp_autoloss.options import DEFAULT_TIME_LIMIT

__all__ = ["SearchConfig", "load_config_file"]


@dataclass
class SearchConfig:
    """Everything that defines a search run (stored in the run file; a resumed run uses it as is).

    Attributes mirror the paper's Algorithm 1: ``generations`` E, ``population`` N, ``top_k`` K (proxy
    evaluations per generation for ``cse``), ``parents`` P. ``time_limit`` is the one limit of an evaluation's
    seconds: the executor kills an evaluation past it, and an adapter's own time options (declared
    ``time_budget``, e.g. the mmdet adapter's ``time_limit``) default to it and may not exceed it.
    ``adapter_options`` and ``executor_options`` hold, once :meth:`validate` passed, the record of every
    declared option (defaults filled in), so the run file says what ran.
    """

    space: str = "softmax_cls"
    strategy: str = "cse"
    adapter: str = "toy"
    adapter_options: dict[str, Any] = field(default_factory=dict)
    generations: int = 4
    population: int = 50
    top_k: int = 5
    parents: int = 5
    seed: int = 0
    p_crossover: float = 0.5
    p_mutation: float = 0.8
    tournament_size: int = 3
    max_depth: int = 8
    max_size: int = 40
    verify_margin: float = 0.0
    time_limit: float = DEFAULT_TIME_LIMIT
    memory_limit_mb: int = 0
    workers: int = 1
    executor: str = "local"
    executor_options: dict[str, Any] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)
    initial_formula: str | None = None

    def validate(self) -> SearchConfig:
        """Check every field (types, finiteness, ranges), the names against the registries, the adapter's and
        executor's options against their declarations (which fills in their defaults: see the class docstring)
        and the initial loss; raises :class:`ConfigError` with one line. Nothing is created before this passes."""
        from gp_autoloss.loss import resolve_space
        from gp_autoloss.search.strategies import STRATEGIES

        self.check_values()
        space = resolve_space(self.space)
        from gp_autoloss.fitness.base import ADAPTERS, load_adapters

        load_adapters(self.adapter)
        if self.adapter not in ADAPTERS:
            raise ConfigError(f"unknown adapter {self.adapter!r}; known: {', '.join(ADAPTERS.names())}{PLUGIN_HINT}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"unknown strategy {self.strategy!r}; known: {', '.join(STRATEGIES.names())}{PLUGIN_HINT}"
            )
        from gp_autoloss.execution.base import resolve_executor_options
        from gp_autoloss.fitness.base import resolve_adapter_options

        # before the run directory exists; the records are what the run file keeps
        self.executor_options = resolve_executor_options(self.executor, self.executor_options)
        self.adapter_options = resolve_adapter_options(self.adapter, space.name, self.adapter_options,
                                                       time_limit=self.time_limit)  # fmt: skip
        _check_initial(space, self.initial_formula)
        self._check_budgets()
        return self

    def _check_budgets(self) -> None:
        """A strategy with proxy-budget rungs needs an adapter that trains budgets."""
        from gp_autoloss.fitness.base import adapter_supports_budget
        from gp_autoloss.search.stages import stages_need_budgets
        from gp_autoloss.search.strategies import STRATEGIES

        try:
            rungs = stages_need_budgets(STRATEGIES.get(self.strategy).pipeline())
        except (KeyError, ValueError):  # an unregistered stage: the engine names it
            return
        if rungs and not adapter_supports_budget(self.adapter):
            raise ConfigError(f"strategy {self.strategy!r} trains part of the proxy ({', '.join(rungs)}) but adapter "
                              f"{self.adapter!r} has no proxy budgets; use an adapter that has (toy, mmdet) or a "
                              "strategy without rungs")  # fmt: skip

    def check_values(self) -> SearchConfig:
        """Types, finiteness and ranges of every field (no registry look-ups); one-line :class:`ConfigError`."""
        for name in ("space", "strategy", "adapter", "executor"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{_flag(name)} must be a name (text), got {value!r}")
        for name in ("adapter_options", "executor_options"):
            value = getattr(self, name)
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise ConfigError(f"{_flag(name)} must be a table/object of KEY = VALUE settings, got {value!r}")
        if not isinstance(self.plugins, list) or not all(isinstance(p, str) and p.strip() for p in self.plugins):
            raise ConfigError(f'plugins must be a list of module names, e.g. plugins = ["my_plugin"], got {self.plugins!r}')
        if self.initial_formula is not None and not isinstance(self.initial_formula, str):
            raise ConfigError(f"initial-formula must be a formula or a known loss name, got {self.initial_formula!r}")
        positive = ("generations", "population", "top_k", "parents", "tournament_size", "max_depth", "max_size",
                    "workers")  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigError(f"{_flag(name)} must be a positive integer, got {value!r}")
        if self.max_depth > MAX_DEPTH:
            raise ConfigError(f"max-depth must be at most {MAX_DEPTH} (deeper trees cannot be printed and parsed back)")
        if not _is_int(self.seed):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")
        if not _is_int(self.memory_limit_mb) or self.memory_limit_mb < 0:
            raise ConfigError(f"memory-limit-mb must be an integer >= 0 (0: no limit), got {self.memory_limit_mb!r}")
        if self.top_k > self.population:
            raise ConfigError(f"top-k ({self.top_k}) cannot exceed population ({self.population})")
        if self.parents > self.population:
            raise ConfigError(f"parents ({self.parents}) cannot exceed population ({self.population})")
        for name in ("p_crossover", "p_mutation"):
            value = getattr(self, name)
            if not _is_real(value) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"{_flag(name)} must be a number in [0, 1], got {value!r}")
        if not _is_real(self.time_limit) or not self.time_limit > 0:
            raise ConfigError(f"time-limit must be a number of seconds > 0, got {self.time_limit!r}")
        if not _is_real(self.verify_margin) or self.verify_margin < 0:
            raise ConfigError(f"verify-margin must be a finite number >= 0, got {self.verify_margin!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchConfig:
        """Build from a dict, rejecting unknown keys (with the likely intended one) and values of the wrong
        type or range (:meth:`check_values`)."""
        if not isinstance(data, dict):
            raise ConfigError(f"settings must be a table/object, got {type(data).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(str(name), known, n=1)
                hints.append(f"{name} (did you mean {close[0]}?)" if close else str(name))
            raise ConfigError(f"unknown config field(s): {', '.join(hints)}; known: {', '.join(known)}")
        return cls(**data).check_values()

    def merged(self, overrides: dict[str, Any]) -> SearchConfig:
        """A copy with the non-``None`` overrides applied."""
        data = self.to_dict()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return SearchConfig.from_dict(data)


#: appended to "unknown NAME" errors: what a user most likely forgot
PLUGIN_HINT = "; is it defined by a plugin? pass --plugin MODULE or install the plugin's package"


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    """A finite int or float (not a bool, not text)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_initial(space: Any, text: str | None) -> None:
    """The initial loss must exist and parse, before the run directory is created."""
    from gp_autoloss.known import resolve_initial

    try:
        resolve_initial(space, text)
    except ConfigError:
        raise
    except GpAutolossError as exc:
        raise ConfigError(f"initial loss: {exc}") from None


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a ``.toml`` or ``.json`` config file into a dict (keys as in :class:`SearchConfig`)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"config file {p.name!r} must be .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot parse {p.name}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {p}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p.name} must hold a table/object of settings")
    data = {k.replace("-", "_"): v for k, v in data.items()}
    return data
