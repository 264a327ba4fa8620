"""Declared options: one frozen dataclass per fitness adapter or executor says, once, what it takes.

A declaration gives every option's name, type (the annotation), default, help text, range or choices, and
whether its value names code to run (a *code option*: never taken from a run file on ``--resume``). From it
come the checks (one-line :class:`~gp_autoloss.errors.ConfigError` naming the option, ``stepz`` -> "did you
mean steps?"), the ``--help`` listing and the record a run stores (:meth:`Options.record`), which parses back to
the same options::

    @dataclass(frozen=True)
    class SegOptions(Options):
        steps: int = option(60, "full-batch Adam steps of the proxy task", ge=1)
        lr: float = option(0.02, "Adam learning rate", gt=0)
        mode: str = option("fast", "how to train", choices=("fast", "exact"))
        config: str | None = option(None, "a Python config file to execute", code=True)

    opts = SegOptions.parse({"steps": 5}, owner="adapter 'seg_blobs'")    # SegOptions(steps=5, lr=0.02, ...)
    SegOptions.parse(opts.record(), owner="...") == opts                   # True

Time limits have one owner, the search's ``time_limit`` (``--time-limit``): the executor kills an evaluation
that runs longer. An option declared with ``time_budget=True`` (seconds an adapter gives one evaluation itself,
e.g. the mmdet adapter's training subprocess) may not exceed it -- a larger value is a one-line error -- and,
left unset (``None``), is set to it when a search resolves the options (``parse(..., time_limit=...)``).
"""

from __future__ import annotations

import copy
import difflib
import math
import operator
import os
import re
import textwrap
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from typing import Any, ClassVar, Self

from gp_autoloss.errors import ConfigError

__all__ = ["Options", "OptionInfo", "option", "unknown_options_error", "DEFAULT_TIME_LIMIT"]

#: the search's ``time_limit`` default (seconds per evaluation); a ``time_budget`` option of an adapter used
#: outside a search falls back to it
DEFAULT_TIME_LIMIT = 600.0

_KEY = "gp_autoloss.option"


@dataclass(frozen=True)
class _Meta:
    help: str = ""
    choices: tuple[Any, ...] | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    pattern: str | None = None
    rule: str | None = None
    code: bool = False
    time_budget: bool = False


def option(default: Any = MISSING, help: str = "", *, choices: Iterable[Any] | None = None,
           ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None,
           pattern: str | None = None, rule: str | None = None, code: bool = False,
           time_budget: bool = False) -> Any:  # fmt: skip
    """A field of an :class:`Options` dataclass.

    Args:
        default: the default value (a dict or list default is copied for every instance).
        help: one line for ``--help``.
        choices: the allowed values.
        ge, gt, le, lt: bounds of a number (``>=``, ``>``, ``<=``, ``<``).
        pattern: a regular expression a text value must match in full; ``rule`` says it in words.
        rule: what a valid value is, in words (replaces the generated wording in errors and help).
        code: the value names code to run or a machine to run it on: a resumed run never takes it from its run
            file (see :mod:`gp_autoloss.search.resume`), and a run records it only when it is set.
        time_budget: seconds of one evaluation: at most the search's ``time_limit``, which fills it when unset.
    """
    meta = {_KEY: _Meta(help, tuple(choices) if choices is not None else None, ge, gt, le, lt, pattern, rule, code,
                        time_budget)}  # fmt: skip
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda d=default: copy.deepcopy(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class OptionInfo:
    """One declared option: what :func:`option` said plus the field's name, type and default."""

    name: str
    type: Any
    default: Any
    meta: _Meta

    @property
    def help(self) -> str:
        return self.meta.help

    @property
    def code(self) -> bool:
        return self.meta.code

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def type_name(self) -> str:
        """The type as ``--help`` shows it: ``int``, ``float or None``, ``mapping``, ..."""
        return " or ".join(_SHORT.get(k, getattr(k, "__name__", str(k))) for k in _kinds(self.type))

    def constraint(self) -> str:
        """The range, choices or pattern of a valid value, in words (``""`` when the type says it all)."""
        m = self.meta
        if m.rule:
            return m.rule
        if m.choices is not None:
            return "one of " + ", ".join(repr(c) for c in m.choices)
        return _bounds_text(m)

    def rule(self) -> str:
        """What a valid value is, in words (``a positive integer or None``, ``one of 'cpu', 'cuda'``)."""
        m = self.meta
        kinds = _kinds(self.type)
        none = " or None" if type(None) in kinds else ""
        if m.rule:
            return m.rule + none
        if m.choices is not None:
            return "one of " + ", ".join(repr(c) for c in m.choices) + none
        base = [k for k in kinds if k is not type(None)]
        if len(base) == 1 and base[0] in (int, float):
            noun = "integer" if base[0] is int else "number"
            positive = (m.gt == 0 and m.ge is None) or (base[0] is int and m.ge == 1 and m.gt is None)
            if positive and m.le is None and m.lt is None:
                return f"a positive {noun}{none}"
            bounds = _bounds_text(m)
            return f"{'an' if noun == 'integer' else 'a'} {noun}{' ' + bounds if bounds else ''}{none}"
        return " or ".join(_NOUN.get(k, f"a {getattr(k, '__name__', k)}") for k in kinds)


_SHORT = {type(None): "None", dict: "mapping", list: "list", Any: "any"}
_NOUN = {bool: "true or false", int: "an integer", float: "a number", str: "text", dict: "a mapping (JSON object)",
         list: "a list", type(None): "None", Any: "anything"}  # fmt: skip


def _kinds(annotation: Any) -> tuple[Any, ...]:
    """The plain types an annotation allows (``float | None`` -> ``(float, NoneType)``)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return tuple(k for arg in typing.get_args(annotation) for k in _kinds(arg))
    if origin is not None:
        return (origin,)
    if annotation is None:
        return (type(None),)
    return (annotation,)


def _bounds_text(m: _Meta) -> str:
    low = (f"[{m.ge:g}", m.ge) if m.ge is not None else (f"({m.gt:g}", m.gt) if m.gt is not None else None
    high = (f"{m.le:g}]", m.le) if m.le is not None else (f"{m.lt:g})", m.lt) if m.lt is not None else None
    if low and high:
        return f"in {low[0]}, {high[0]}"
    if low:
        return f"{'>=' if m.ge is not None else '>'} {low[1]:g}"
    if high:
        return f"{'<=' if m.le is not None else '<'} {high[1]:g}"
    return ""


def unknown_options_error(owner: str, known: Iterable[str], unknown: Iterable[str]) -> ConfigError:
    """The one-line error for option names ``owner`` does not take, with the likely intended ones."""
    known = sorted(known)
    hints = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, known, n=1)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return ConfigError(f"{owner}: unknown option(s) {', '.join(hints)}; known: {', '.join(known) or 'none'}")


@dataclass(frozen=True)
class Options:
    """Base of an options declaration: subclass it as a frozen dataclass whose fields are :func:`option` s.

    Hooks a declaration may override: :meth:`space_defaults` (defaults that depend on the search space),
    :meth:`applies` (an option that means nothing in some space is refused there and left out of the record)
    and :meth:`check` (rules between options).
    """

    #: how the CLI spells an option, e.g. ``"--ray-"`` for ``--ray-num-cpus``; used in errors and ``--help``
    flag_prefix: ClassVar[str] = ""

    # ---- hooks --------------------------------------------------------------------------------------------
    @classmethod
    def space_defaults(cls, space: str | None) -> dict[str, Any]:
        """Defaults for ``space`` that differ from the fields' own (none by default)."""
        return {}

    @classmethod
    def applies(cls, name: str, space: str | None) -> bool:
        """Whether option ``name`` means something in ``space`` (every option does, by default)."""
        return True

    def check(self, owner: str, space: str | None) -> None:
        """Rules between options, after each passed its own; raise a one-line :class:`ConfigError`."""

    # ---- the declaration ----------------------------------------------------------------------------------
    @classmethod
    @cache
    def infos(cls) -> tuple[OptionInfo, ...]:
        """Every declared option, in declaration order."""
        hints = typing.get_type_hints(cls)
        out = []
        for f in fields(cls):
            default = f.default if f.default is not MISSING else (
                f.default_factory() if f.default_factory is not MISSING else MISSING)  # fmt: skip
            out.append(OptionInfo(f.name, hints.get(f.name, Any), default, f.metadata.get(_KEY, _Meta())))
        return tuple(out)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names."""
        return tuple(i.name for i in cls.infos())

    @classmethod
    def code_options(cls) -> tuple[str, ...]:
        """The options declared ``code=True``."""
        return tuple(i.name for i in cls.infos() if i.code)

    @classmethod
    def label(cls, name: str) -> str:
        """How errors name option ``name``: ``steps``, or ``num_cpus (--ray-num-cpus)`` with a flag prefix."""
        return f"{name} ({cls.flag_prefix}{name.replace('_', '-')})" if cls.flag_prefix else name

    # ---- parsing ------------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, values: Mapping[str, Any], *, owner: str, space: str | None = None,
              time_limit: float | None = None) -> Self:  # fmt: skip
        """Check ``values`` (names, types, ranges, choices, :meth:`check`) and fill in the defaults.

        ``owner`` starts every error (``"adapter 'toy'"``). ``time_limit``: the search's limit per evaluation,
        which bounds and fills the ``time_budget`` options (see the module docstring); ``None`` outside a search.
        """
        if not isinstance(values, Mapping):
            raise ConfigError(f"{owner}: options must be a mapping of names to values, not {values!r}")
        names = cls.names()
        unknown = set(values) - set(names)
        if unknown:
            raise unknown_options_error(owner, names, unknown)
        unused = sorted(n for n in values if not cls.applies(n, space))
        if unused:
            raise ConfigError(f"{owner}: option(s) {', '.join(unused)} do not apply to space {space!r}")
        merged = {**cls.space_defaults(space), **values}
        parsed: dict[str, Any] = {}
        for info in cls.infos():
            if info.name in merged:
                value = merged[info.name]
            elif info.required:
                raise ConfigError(f"{owner}: option {cls.label(info.name)} is required ({info.rule()})")
            else:
                value = copy.deepcopy(info.default)
            value = _checked(owner, cls.label(info.name), info, value)
            if info.meta.time_budget and time_limit is not None:
                value = _within(owner, cls.label(info.name), value, time_limit)
            parsed[info.name] = value
        options = cls(**parsed)
        options.check(owner, space)
        return options

    def record(self, space: str | None = None) -> dict[str, Any]:
        """What a run stores: every option that applies to ``space``, except code options left unset.

        The record is plain JSON data and parses back to these options (:meth:`parse`)."""
        out = {}
        for info in self.infos():
            value = getattr(self, info.name)
            if not self.applies(info.name, space) or (info.code and value == info.default):
                continue
            out[info.name] = copy.deepcopy(value)
        return out

    # ---- help ---------------------------------------------------------------------------------------------
    @classmethod
    def help_lines(cls, space: str | None = None, width: int = 100) -> list[str]:
        """``--help`` lines: per option ``name: type = default`` and its help text, rule and notes."""
        defaults = cls.space_defaults(space)
        lines = []
        for info in cls.infos():
            if not cls.applies(info.name, space):
                continue
            default = defaults.get(info.name, info.default)
            shown = "required" if default is MISSING else repr(default)
            head = f"  {cls.flag_prefix}{info.name.replace('_', '-')}" if cls.flag_prefix else f"  {info.name}"
            lines.append(f"{head}: {info.type_name()} = {shown}")
            notes = [info.help.rstrip(".")] if info.help else []
            constraint = info.constraint()
            if constraint:
                notes.append(constraint)
            if info.meta.time_budget:
                notes.append("at most the search's --time-limit, which it defaults to in a search")
            if info.code:
                notes.append("names code to run: give it again on --resume, a run file never supplies it")
            text = "; ".join(notes)
            if text:
                lines += textwrap.wrap(text, width=width, initial_indent=" " * 6, subsequent_indent=" " * 6)
        return lines


def _checked(owner: str, label: str, info: OptionInfo, value: Any) -> Any:
    """``value`` if it fits ``info`` (ints given for floats become floats, paths text); else a ConfigError."""
    kinds = _kinds(info.type)
    fitted = _fit(value, kinds)
    if fitted is _BAD:
        raise ConfigError(f"{owner}: {label} must be {info.rule()}, not {value!r}")
    if fitted is None:
        return None
    m = info.meta
    ok = (m.choices is None or fitted in m.choices) and (
        m.pattern is None or (isinstance(fitted, str) and re.fullmatch(m.pattern, fitted) is not None))
    if isinstance(fitted, (int, float)) and not isinstance(fitted, bool):
        ok = ok and all(bound is None or test(fitted, bound) for bound, test in (
            (m.ge, operator.ge), (m.gt, operator.gt), (m.le, operator.le), (m.lt, operator.lt)))  # fmt: skip
    if not ok:
        raise ConfigError(f"{owner}: {label} must be {info.rule()}, not {value!r}")
    return fitted


_BAD = object()


def _fit(value: Any, kinds: tuple[Any, ...]) -> Any:
    """``value`` converted to the first of ``kinds`` it fits, or ``_BAD``."""
    for kind in kinds:
        if kind is Any:
            return value
        if kind is type(None):
            if value is None:
                return None
        elif kind is bool:
            if isinstance(value, bool):
                return value
        elif kind is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        elif kind is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                return float(value)
        elif kind is str:
            if isinstance(value, str):
                return value
            if isinstance(value, os.PathLike):
                return os.fspath(value)
        elif kind is dict:
            if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
                return dict(value)
        elif kind is list:
            if isinstance(value, (list, tuple)):
                return list(value)
        elif isinstance(value, kind):
            return value
    return _BAD


def _within(owner: str, label: str, value: float | None, time_limit: float) -> float:
    """A ``time_budget`` option under the search's ``time_limit``: unset is the limit, more is an error."""
    if value is None:
        return float(time_limit)
    if value > time_limit:
        raise ConfigError(
            f"{owner}: {label} of {value:g} s exceeds the search's time-limit of {time_limit:g} s, after which the "
            f"executor kills every evaluation: lower {label.split(' ')[0]} or raise --time-limit"
        )
    return value
