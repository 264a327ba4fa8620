"""The :class:`FitnessAdapter` extension point and its registry.

An adapter turns a candidate :class:`~gp_autoloss.loss.Loss` into a number where higher is better:

* :meth:`FitnessAdapter.verify` -- the paper's model-optimization simulation: train and test on the
  tiny D_verify set (one image per category);
* :meth:`FitnessAdapter.proxy` -- the proxy task: train on the proxy split, test on the val split.

Adapters are built from a name and a plain options dict (so a worker process or a Ray task can build
its own copy). An adapter declares its options once, as an :class:`~gp_autoloss.options.Options` dataclass
(types, ranges, defaults, help text, code options); the base class checks them and the adapter reads
``self.opts``. Registration takes a factory, which lets heavy adapters import lazily (the mmdet adapter is
registered this way by its plugin, ``detectors_adapter.plugin``, with its options declaration)::

    @dataclass(frozen=True)
    class MyOptions(Options):
        steps: int = option(60, "training steps", ge=1)

    @register_adapter("my_adapter")
    class MyAdapter(FitnessAdapter):
        options_class = MyOptions          # any other option is refused, with the likely intended one
        def verify(self, loss, seed): ...  # self.opts.steps
        def proxy(self, loss, seed): ...
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from fractions import Fraction
from typing import Any, ClassVar

from gp_autoloss.errors import ConfigError, GpAutolossError
from gp_autoloss.fitness.options import check_options
from gp_autoloss.loss import Loss, resolve_space
from gp_autoloss.options import Options
from primitives import Registry

__all__ = ["FitnessAdapter", "CandidateFailed", "ADAPTERS", "register_adapter", "register_lazy_adapter", "create_adapter",
           "load_adapters", "adapter_options_class", "adapter_supports_budget", "resolve_adapter_options"]


class CandidateFailed(GpAutolossError):
    """Raised by an adapter when a candidate cannot be scored (diverged, NaN loss, ...)."""


class FitnessAdapter(ABC):
    """Scores candidate losses of one search space. Subclasses implement :meth:`verify` and :meth:`proxy`.

    Args:
        space: the search space of the candidates (the branch being searched).
        **options: adapter-specific settings, checked against :attr:`options_class` (then ``self.opts`` holds
            them, defaults filled in, and ``self.options`` their record, stored with a run).
    """

    #: registry name
    name: ClassVar[str] = ""
    #: spaces this adapter can score; empty means any
    spaces: ClassVar[tuple[str, ...]] = ()
    #: options whose values name code to run (e.g. a Python config file): a resumed run never takes them from
    #: its run file, the user gives them again (see :mod:`gp_autoloss.search.resume`)
    code_options: ClassVar[tuple[str, ...]] = ()
    #: the declaration of this adapter's options (:class:`~gp_autoloss.options.Options`): names, types, ranges,
    #: defaults, help text, code options; ``None`` for an adapter that declares them the older ways below
    options_class: ClassVar[type[Options] | None] = None
    #: without ``options_class``: the option names this adapter takes; ``None``: the keyword parameters of its
    #: ``__init__``. Others are refused here, for every adapter (:mod:`gp_autoloss.fitness.options`)
    accepted_options: ClassVar[tuple[str, ...] | None] = None
    #: whether :meth:`proxy_budget` trains part of the proxy schedule and continues from a state folder (the
    #: multi-fidelity stages need it; see :mod:`gp_autoloss.fitness.budget`)
    supports_budget: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.options_class is not None:  # the declaration's code options count as this class's
            cls.code_options = tuple(dict.fromkeys([*cls.code_options, *cls.options_class.code_options()]))

    def __init__(self, space: str, **options: Any) -> None:
        label = self.name or type(self).__name__
        check_options(label, type(self), options)
        sp = resolve_space(space)
        if self.spaces and sp.name not in self.spaces:
            raise ConfigError(f"adapter {self.name!r} does not support space {sp.name!r} (supports: {', '.join(self.spaces)})")
        self.space = sp
        if self.options_class is not None:
            #: the checked options, defaults filled in (``self.opts.steps``)
            self.opts = self.options_class.parse(options, owner=f"adapter {label!r}", space=sp.name)
            self.options = self.opts.record(sp.name)
        else:
            self.options = dict(options)

    @abstractmethod
    def verify(self, loss: Loss, seed: int) -> float:
        """Model-optimization simulation on D_verify; returns a metric (higher is better)."""

    @abstractmethod
    def proxy(self, loss: Loss, seed: int) -> float:
        """Proxy-task evaluation; returns a metric (higher is better)."""

    def proxy_budget(self, loss: Loss, seed: int, budget: Fraction, state: str | None) -> float:
        """The proxy task trained for ``budget`` (a fraction in (0, 1]) of its schedule; returns its metric.

        ``state`` is a folder of this loss's own (shared by its equivalents) where the adapter keeps what it
        trained: called again with a larger budget, it continues from the longest schedule prefix it saved there,
        so no step is paid twice. Budgets are prefixes of one schedule: ``budget`` 1 gives :meth:`proxy`'s
        metric. Adapters that implement it set :attr:`supports_budget`."""
        raise ConfigError(f"adapter {self.name!r} has no proxy budgets (it trains the whole proxy or nothing)")

    def describe(self) -> dict[str, Any]:
        """Settings to store with a run (JSON-serializable)."""
        return {"adapter": self.name, "space": self.space.name, **self.options}

    def close(self) -> None:
        """Release resources (temporary directories, ...)."""


AdapterFactory = Callable[..., FitnessAdapter]
ADAPTERS: Registry[AdapterFactory] = Registry("adapter")


def register_adapter(name: str) -> Callable[[type[FitnessAdapter]], type[FitnessAdapter]]:
    """Class decorator registering a :class:`FitnessAdapter` subclass under ``name``."""

    def deco(cls: type[FitnessAdapter]) -> type[FitnessAdapter]:
        cls.name = name
        ADAPTERS.add(name, cls)
        return cls

    return deco


def register_lazy_adapter(name: str, target: str, *, code_options: tuple[str, ...] = (),
                          options: type[Options] | None = None, supports_budget: bool = False) -> None:  # fmt: skip
    """Register an adapter by ``"module:Class"``, imported only when the adapter is created. ``options``: its
    :attr:`~FitnessAdapter.options_class`, from a module light to import, so that settings are checked and
    ``--help`` lists them without importing the class; ``code_options`` as :attr:`FitnessAdapter.code_options`
    (the declaration's are added); ``supports_budget`` as :attr:`FitnessAdapter.supports_budget` (so a search
    config is checked without importing the class)."""

    def factory(space: str, **options: Any) -> FitnessAdapter:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"adapter {name!r} needs extra packages ({exc.name or exc}); see README") from None
        return getattr(module, attr)(space, **options)

    declared = options.code_options() if options is not None else ()
    factory.code_options = tuple(dict.fromkeys([*code_options, *declared]))  # type: ignore[attr-defined]
    factory.options_class = options  # type: ignore[attr-defined]
    factory.supports_budget = supports_budget  # type: ignore[attr-defined]
    ADAPTERS.add(name, factory)


def create_adapter(name: str, space: str, **options: Any) -> FitnessAdapter:
    """Build a registered adapter; unknown names raise :class:`ConfigError`."""
    load_adapters(name)
    try:
        factory = ADAPTERS.get(name)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    if isinstance(factory, type) and issubclass(factory, FitnessAdapter):
        check_options(name, factory, options)  # before Python's own "unexpected keyword argument"
    try:
        return factory(space, **options)
    except TypeError as exc:
        raise ConfigError(f"adapter {name!r}: {exc}") from None


def adapter_options_class(name: str) -> type[Options] | None:
    """The options declaration of registered adapter ``name`` (``None``: it declares none); never imports a
    lazily registered adapter's module."""
    load_adapters(name)
    try:
        factory = ADAPTERS.get(name)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    return getattr(factory, "options_class", None)


def adapter_supports_budget(name: str) -> bool:
    """Whether registered adapter ``name`` trains proxy budgets (:attr:`FitnessAdapter.supports_budget`), without
    importing a lazily registered adapter's module."""
    load_adapters(name)
    try:
        factory = ADAPTERS.get(name)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    return bool(getattr(factory, "supports_budget", False))


def resolve_adapter_options(name: str, space: str, options: dict[str, Any], *,
                            time_limit: float | None = None) -> dict[str, Any]:  # fmt: skip
    """What a run records of adapter ``name``'s ``options``: with a declaration, every option checked, defaults
    filled in and the ``time_budget`` ones bounded and filled by the search's ``time_limit`` (see
    :mod:`gp_autoloss.options`); without one, the names checked and the options as given. Builds no adapter.
    Raises a one-line :class:`ConfigError`."""
    declared = adapter_options_class(name)
    factory = ADAPTERS.get(name)
    if declared is None:
        if isinstance(factory, type) and issubclass(factory, FitnessAdapter):
            check_options(name, factory, options)
        return dict(options)
    return declared.parse(options, owner=f"adapter {name!r}", space=space, time_limit=time_limit).record(space)


def load_adapters(name: str | None = None) -> None:
    """Register the core's adapters (``toy``) and, if ``name`` is still unknown, the installed plugins'
    (entry points; see :mod:`gp_autoloss.plugins`)."""
    importlib.import_module("gp_autoloss.fitness.toy")
    if name is not None and name not in ADAPTERS:
        from gp_autoloss.plugins import load_entry_points

        load_entry_points()
