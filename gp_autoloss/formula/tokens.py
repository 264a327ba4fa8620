"""Tokenizer for loss formulas (infix math and DEAP's prefix form share one grammar)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gp_autoloss.errors import FormulaSyntaxError

__all__ = ["Token", "tokenize", "MAX_FORMULA_LENGTH"]

MAX_FORMULA_LENGTH = 20_000

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)  # ASCII digits only: not '\u0661' for 1
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>[-+*/])
  | (?P<open>[(\[])
  | (?P<close>[)\]])
  | (?P<comma>,)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    """A lexical token: ``kind`` is number, name, op, open, close, comma or end."""

    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``end`` token; raises on any other character."""
    if not isinstance(text, str):
        raise FormulaSyntaxError(f"a formula must be text, not {type(text).__name__}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise FormulaSyntaxError(f"formula longer than {MAX_FORMULA_LENGTH} characters", text, MAX_FORMULA_LENGTH)
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise FormulaSyntaxError(f"unexpected character {text[pos]!r}", text, pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens
