"""Search configuration: a dataclass built from a config file plus command-line overrides."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

from gp_autoloss.errors import ConfigError

__all__ = ["SearchConfig", "load_config_file"]


@dataclass
class SearchConfig:
    """Everything that defines a search run (stored in the run file; a resumed run uses it as is).

    Attributes mirror the paper's Algorithm 1: ``generations`` E, ``population`` N, ``top_k`` K (proxy
    evaluations per generation for ``cse``), ``parents`` P.
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
    time_limit: float = 600.0
    memory_limit_mb: int = 0
    workers: int = 1
    executor: str = "local"
    executor_options: dict[str, Any] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)
    initial_formula: str | None = None

    def validate(self) -> SearchConfig:
        """Check ranges and names; raises :class:`ConfigError` with one line."""
        from gp_autoloss.loss import resolve_space
        from gp_autoloss.search.strategies import STRATEGIES

        resolve_space(self.space)
        from gp_autoloss.fitness.base import ADAPTERS, _load_builtin_adapters

        _load_builtin_adapters()
        if self.adapter not in ADAPTERS:
            raise ConfigError(f"unknown adapter {self.adapter!r}; known: {', '.join(ADAPTERS.names())}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {self.strategy!r}; known: {', '.join(STRATEGIES.names())}")
        if not isinstance(self.executor_options, dict):
            raise ConfigError(f"executor-options must be a table/object, got {self.executor_options!r}")
        from gp_autoloss.execution.base import check_executor

        check_executor(self.executor, self.executor_options)  # before the run directory exists
        positive = ("generations", "population", "top_k", "parents", "tournament_size", "max_depth", "max_size",
                    "workers")  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.top_k > self.population:
            raise ConfigError(f"top-k ({self.top_k}) cannot exceed population ({self.population})")
        if self.parents > self.population:
            raise ConfigError(f"parents ({self.parents}) cannot exceed population ({self.population})")
        for name in ("p_crossover", "p_mutation"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name.replace('_', '-')} must be in [0, 1], got {value!r}")
        if not self.time_limit > 0:
            raise ConfigError(f"time-limit must be > 0 seconds, got {self.time_limit!r}")
        if self.memory_limit_mb < 0:
            raise ConfigError("memory-limit-mb must be >= 0 (0: no limit)")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchConfig:
        """Build from a dict, rejecting unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**data)

    def merged(self, overrides: dict[str, Any]) -> SearchConfig:
        """A copy with the non-``None`` overrides applied."""
        data = self.to_dict()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return SearchConfig.from_dict(data)


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
