"""The :class:`Executor` extension point: run evaluation jobs, yield results as they finish.

Jobs carry the candidate as formula text (prefix form) plus everything a worker needs to build the
adapter itself, so a job can cross a process or machine boundary. Results go back to the driver, the
only writer of the run file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from gp_autoloss.errors import ConfigError
from gp_autoloss.options import Options
from primitives import Registry

__all__ = ["CAPABILITIES", "EvalJob", "EvalResult", "Executor", "EXECUTORS", "create_executor", "check_executor",
           "AdapterSpec", "executor_factory", "executor_names", "executor_options_class", "resolve_executor_options"]

#: what an executor may claim to enforce (:attr:`Executor.capabilities`)
CAPABILITIES = ("time_limit", "memory_limit", "worker_death")


@dataclass(frozen=True)
class AdapterSpec:
    """How to build the fitness adapter in a worker."""

    name: str
    space: str
    options: dict[str, Any] = field(default_factory=dict)
    plugins: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvalJob:
    """One expensive evaluation: ``stage`` is its fidelity (``verify``, ``proxy`` or a proxy budget
    ``proxy@N/M``, see :mod:`gp_autoloss.fitness.budget`); ``state`` a folder where the adapter keeps what it
    trained for this loss, so a larger budget continues from it (``None``: nothing kept). Score it with
    :func:`gp_autoloss.fitness.score` ``(adapter, job.stage, loss, job.seed, job.state)``."""

    job_id: str
    stage: str
    formula: str
    seed: int
    state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EvalResult:
    """The outcome of one job: a metric, or ``ok=False`` with the reason."""

    job_id: str
    ok: bool
    metric: float | None
    reason: str = ""
    seconds: float = 0.0


class Executor(ABC):
    """Runs :class:`EvalJob` s for one adapter; subclasses decide where.

    Args:
        adapter: how to build the fitness adapter where the jobs run.
        time_limit: seconds one evaluation may take (the search's ``--time-limit``); the executor enforces it.
        memory_limit_mb: memory one evaluation may use (0: no limit).
        workers: evaluations at once, for executors that decide it themselves.
        log_path: where workers write their output.
        **options: the executor's own options, checked against :attr:`options_class` (then ``self.opts`` holds
            them, defaults filled in, and ``self.options`` their record).
    """

    name = ""
    #: options whose values name code to run or a machine to run on: a resumed run never takes them from
    #: its run file (see :mod:`gp_autoloss.search.resume`); a declaration's ``code=True`` options are added
    code_options: tuple[str, ...] = ()
    #: the declaration of this executor's own options; ``None``: it checks them in :meth:`check_options` itself
    options_class: type[Options] | None = None
    #: what this executor guarantees beyond the basics (every job gets a result; a candidate that raises or
    #: returns a non-finite metric is an ``ok=False`` result and the run goes on), some of :data:`CAPABILITIES`:
    #: ``"time_limit"`` (a job running past ``time_limit`` is stopped and failed), ``"memory_limit"`` (likewise past
    #: ``memory_limit_mb``), ``"worker_death"`` (a job whose process dies is failed and later jobs still run).
    #: Claim only what it enforces: the contract suite (``tests/test_contract_executors.py``) tests exactly these
    capabilities: frozenset[str] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = set(cls.capabilities) - set(CAPABILITIES)
        if unknown:
            raise TypeError(f"executor {cls.__name__}: unknown capabilities {sorted(unknown)}; known: {CAPABILITIES}")
        if cls.options_class is not None:
            cls.code_options = tuple(dict.fromkeys([*cls.code_options, *cls.options_class.code_options()]))

    def __init__(self, adapter: AdapterSpec, *, time_limit: float, memory_limit_mb: int = 0, workers: int = 1,
                 log_path: str | None = None, **options: Any) -> None:  # fmt: skip
        self.adapter = adapter
        self.time_limit = time_limit
        self.memory_limit_mb = memory_limit_mb
        self.workers = workers
        self.log_path = log_path
        if self.options_class is not None:
            #: the checked options, defaults filled in (``self.opts.num_cpus``)
            self.opts = self.options_class.parse(options, owner=f"executor {self.name!r}")
            self.options = self.opts.record()
        else:
            self.options = options

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> None:
        """Validate executor-specific options before a run starts; raises :class:`ConfigError` (one line). The
        default checks them against :attr:`options_class`, if declared."""
        if cls.options_class is not None:
            cls.options_class.parse(options, owner=f"executor {cls.name!r}")

    @abstractmethod
    def run(self, jobs: Sequence[EvalJob]) -> Iterator[EvalResult]:
        """Evaluate ``jobs``; yield each result as soon as it is known (any order)."""

    def close(self) -> None:
        """Stop workers and free resources."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


ExecutorFactory = Callable[..., Executor]
EXECUTORS: Registry[ExecutorFactory] = Registry("executor")

#: executors whose module is imported on first use, so that ``import gp_autoloss`` never imports ray
_LAZY_EXECUTORS = {"local": "gp_autoloss.execution.local", "ray": "gp_autoloss.execution.ray_executor"}
#: the options declarations of those executors, in modules that import nothing heavy (``--help`` lists them)
_LAZY_OPTIONS = {"local": "gp_autoloss.execution.local:LocalOptions",
                 "ray": "gp_autoloss.execution.ray_options:RayOptions"}  # fmt: skip
#: what to install when a lazily imported executor's dependency is missing
_INSTALL_HINTS = {"ray": "the ray executor needs ray: pip install -e .[ray]"}


def executor_factory(name: str) -> ExecutorFactory:
    """The factory of executor ``name``, importing a built-in executor's module on first use."""
    if name not in EXECUTORS and name in _LAZY_EXECUTORS:
        import importlib

        try:
            importlib.import_module(_LAZY_EXECUTORS[name])
        except ImportError as exc:
            hint = _INSTALL_HINTS.get(name)
            if hint is None:
                raise
            raise ConfigError(hint if exc.name == name else f"{hint} ({exc})") from None
    try:
        return EXECUTORS.get(name)
    except KeyError:
        raise ConfigError(f"unknown executor {name!r}; known: {', '.join(executor_names())}") from None


def executor_names() -> list[str]:
    """Every executor name: the registered ones and the built-in ones imported on first use (``ray``)."""
    return sorted(set(EXECUTORS.names()) | set(_LAZY_EXECUTORS))


def executor_options_class(name: str) -> type[Options] | None:
    """The options declaration of executor ``name`` (``None``: it declares none), without importing a built-in
    executor's heavy dependencies (ray)."""
    if name not in EXECUTORS and name in _LAZY_OPTIONS:
        import importlib

        module, _, attr = _LAZY_OPTIONS[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    return getattr(executor_factory(name), "options_class", None)


def resolve_executor_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """What a run records of executor ``name``'s ``options``: checked, defaults filled in (with a declaration),
    else checked by its ``check_options`` and kept as given. One-line :class:`ConfigError` when bad."""
    check_executor(name, options)
    declared = executor_options_class(name)
    if declared is None:
        return dict(options)
    return declared.parse(options, owner=f"executor {name!r}").record()


def check_executor(name: str, options: dict[str, Any]) -> None:
    """Check that executor ``name`` exists (importing it if needed) and accepts ``options``."""
    factory = executor_factory(name)
    check = getattr(factory, "check_options", None)
    if check is not None:
        check(dict(options))


def create_executor(name: str, adapter: AdapterSpec, **kwargs: Any) -> Executor:
    """Build a registered executor; unknown names, missing dependencies or bad options raise :class:`ConfigError`."""
    return executor_factory(name)(adapter, **kwargs)
