"""Recursive-descent parser: formula text -> untyped syntax tree.

Grammar (one grammar covers the paper's infix math and DEAP's prefix form, which is all calls)::

    expr    := unary (BINOP unary)*          precedence climbing, left associative
    unary   := '-' unary | primary
    primary := NUMBER | NAME | NAME '(' expr (',' expr)* ')' | '(' expr ')' | '[' expr ']'

Infix symbols come from the primitive registry (``+ - * /`` and unary ``-``), so the parser does not
hard-code operator names. Unary minus binds tighter than ``*``: ``-a * b`` is ``mul(neg(a), b)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gp_autoloss.errors import FormulaSyntaxError
from gp_autoloss.formula.tokens import Token, tokenize
from gp_autoloss.limits import MAX_DEPTH, MAX_NESTING
from primitives import PRIMITIVES

__all__ = ["SyntaxNode", "parse_syntax", "MAX_NESTING", "MAX_HEIGHT"]

#: the tallest formula tree accepted, in levels (a terminal is 1): :data:`gp_autoloss.limits.MAX_DEPTH` edges.
#: Canonical infix costs the parser at most two nesting levels per tree level (an operator and its
#: parentheses), so every accepted tree prints to infix that parses back.
MAX_HEIGHT = MAX_DEPTH + 1
_CLOSING = {"(": ")", "[": "]"}


@dataclass(frozen=True)
class SyntaxNode:
    """An untyped node: ``kind`` is ``call``, ``name`` or ``number``; ``pos`` its column."""

    kind: str
    name: str
    pos: int
    args: tuple[SyntaxNode, ...] = field(default=())


def _operator_tables() -> tuple[dict[str, tuple[str, int]], dict[str, str]]:
    binary: dict[str, tuple[str, int]] = {}
    unary: dict[str, str] = {}
    for name, prim in PRIMITIVES.items():
        if prim.infix is None:
            continue
        if prim.arity == 2:
            binary[prim.infix] = (name, prim.precedence)
        elif prim.arity == 1:
            unary[prim.infix] = name
    return binary, unary


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.binary, self.unary = _operator_tables()

    # ---- helpers --------------------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, message: str, tok: Token | None = None) -> FormulaSyntaxError:
        tok = tok or self.tok
        return FormulaSyntaxError(message, self.text, tok.pos)

    def describe(self, tok: Token) -> str:
        return "end of formula" if tok.kind == "end" else repr(tok.text)

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"formula nested deeper than {MAX_NESTING} levels")

    # ---- grammar --------------------------------------------------------------------------------------
    def parse(self) -> SyntaxNode:
        if self.tok.kind == "end":
            raise self.fail("empty formula")
        node = self.expr(0)
        if self.tok.kind != "end":
            if self.tok.kind in ("name", "number", "open"):
                raise self.fail(f"missing operator before {self.describe(self.tok)} (write '*' explicitly)")
            raise self.fail(f"unexpected {self.describe(self.tok)}")
        self.check_height(node)
        return node

    def check_height(self, root: SyntaxNode) -> None:
        """Reject trees taller than ``MAX_HEIGHT`` levels.

        ``enter`` bounds the parser's own recursion, but a left-associative chain (``a + a + ... + a``) is
        parsed by a loop and still yields a tree as tall as the chain is long, which would overflow the
        recursive type checker and printers. Iterative, so it is safe on any height.
        """
        if len(self.tokens) <= MAX_HEIGHT:  # every node has a token of its own: too few to be too tall
            return
        heights: dict[int, int] = {}
        stack: list[tuple[SyntaxNode, bool]] = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            if not children_done:
                stack.append((node, True))
                stack.extend((child, False) for child in node.args)
                continue
            height = 1 + max((heights[id(child)] for child in node.args), default=0)
            if height > MAX_HEIGHT:
                raise FormulaSyntaxError(f"formula tree taller than {MAX_HEIGHT} levels", self.text, node.pos)
            heights[id(node)] = height

    def expr(self, min_prec: int) -> SyntaxNode:
        self.enter()
        left = self.unary_expr()
        while self.tok.kind == "op" and self.tok.text in self.binary:
            name, prec = self.binary[self.tok.text]
            if prec < min_prec:
                break
            op = self.advance()
            right = self.expr(prec + 1)
            left = SyntaxNode("call", name, op.pos, (left, right))
        self.depth -= 1
        return left

    def unary_expr(self) -> SyntaxNode:
        tok = self.tok
        if tok.kind == "op":
            if tok.text in self.unary:
                self.advance()
                self.enter()
                operand = self.unary_expr()
                self.depth -= 1
                return SyntaxNode("call", self.unary[tok.text], tok.pos, (operand,))
            raise self.fail(f"operator {tok.text!r} needs a left operand")
        return self.primary()

    def primary(self) -> SyntaxNode:
        tok = self.advance()
        if tok.kind == "number":
            return SyntaxNode("number", tok.text, tok.pos)
        if tok.kind == "name":
            if self.tok.kind == "open" and self.tok.text == "(":
                return SyntaxNode("call", tok.text, tok.pos, self.arguments())
            return SyntaxNode("name", tok.text, tok.pos)
        if tok.kind == "open":
            inner = self.expr(0)
            self.expect_close(tok)
            return inner
        raise self.fail(f"expected a value, got {self.describe(tok)}", tok)

    def arguments(self) -> tuple[SyntaxNode, ...]:
        open_tok = self.advance()
        if self.tok.kind == "close":
            self.expect_close(open_tok)
            return ()
        args = [self.expr(0)]
        while self.tok.kind == "comma":
            self.advance()
            args.append(self.expr(0))
        self.expect_close(open_tok)
        return tuple(args)

    def expect_close(self, open_tok: Token) -> None:
        want = _CLOSING[open_tok.text]
        if self.tok.kind == "close" and self.tok.text == want:
            self.advance()
            return
        if self.tok.kind == "end":
            raise FormulaSyntaxError(f"unclosed {open_tok.text!r}", self.text, open_tok.pos)
        raise self.fail(f"expected {want!r}, got {self.describe(self.tok)}")


def parse_syntax(text: str) -> SyntaxNode:
    """Parse formula text into an untyped :class:`SyntaxNode` tree (no evaluation of any kind)."""
    return _Parser(text).parse()
