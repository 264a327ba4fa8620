"""Formula text <-> typed expressions: tokenizer, parser, type checker and printers (never ``eval``)."""

from gp_autoloss.formula.printing import to_infix, to_prefix
from gp_autoloss.formula.syntax import SyntaxNode, parse_syntax
from gp_autoloss.formula.typing import resolve

__all__ = ["SyntaxNode", "parse_syntax", "resolve", "to_infix", "to_prefix"]
