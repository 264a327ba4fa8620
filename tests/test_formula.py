"""Formula text: infix and prefix parsing, canonical printing, round trips, and every kind of bad input."""

from __future__ import annotations

import pytest

from gp_autoloss import (
    ArityError,
    FormulaError,
    FormulaSyntaxError,
    FormulaTypeError,
    GpAutolossError,
    Loss,
    OutputTypeError,
    SpaceError,
    UnknownNameError,
    known_losses,
    parse,
)
from gp_autoloss.formula.syntax import MAX_HEIGHT
from gp_autoloss.formula.tokens import MAX_FORMULA_LENGTH
from primitives import Scalar

# ---- reading and printing ------------------------------------------------------------------------------------


def test_the_issue_example():
    loss = parse("-dot((1 + sin(w)) * y, log(softmax(x)))", "softmax_cls")
    assert loss.to_prefix() == "neg(dot(mul(add(1, sin(w)), y), log(softmax(x))))"
    assert str(loss) == "-dot((1 + sin(w)) * y, log(softmax(x)))"
    assert parse("neg(dot(mul(add(1, sin(w)), y), log(softmax(x))))", "softmax_cls") == loss
    assert loss.output_type is Scalar and loss.size == 11 and loss.depth == 5


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("i - u - e", "sub(sub(i, u), e)"),  # left associative
        ("i - (u - e)", "sub(i, sub(u, e))"),
        ("i / u * e", "mul(div(i, u), e)"),
        ("i + u * e", "add(i, mul(u, e))"),  # * binds tighter than +
        ("(i + u) * e", "mul(add(i, u), e)"),
        ("-i * u", "mul(neg(i), u)"),  # unary minus binds tighter than *
        ("-(i * u)", "neg(mul(i, u))"),
        ("2 * -i", "mul(2, neg(i))"),
        ("i - -u", "sub(i, neg(u))"),
        ("--i", "neg(neg(i))"),
        ("[i + u] / e", "div(add(i, u), e)"),
        ("  log( i )\n+\texp(u)  ", "add(log(i), exp(u))"),
        ("1.0 + 2. + 3e0 + 0.1e1", "add(add(add(1, 2), 3), 1)"),
        ("add(i, mul(u, 3))", "add(i, mul(u, 3))"),
        ("sub(1, i) * u", "mul(sub(1, i), u)"),  # prefix calls and infix mixed
    ],
)
def test_infix_precedence_and_forms(text, prefix):
    loss = parse(text, "iou_reg")
    assert loss.to_prefix() == prefix
    assert parse(str(loss), "iou_reg") == loss


@pytest.mark.parametrize(
    ("prefix", "infix"),
    [
        ("sub(i, sub(u, e))", "i - (u - e)"),
        ("sub(sub(i, u), e)", "i - u - e"),
        ("add(i, add(u, e))", "i + (u + e)"),  # the tree, not just the value, survives
        ("div(i, mul(u, e))", "i / (u * e)"),
        ("mul(neg(i), u)", "(-i) * u"),
        ("mul(i, neg(u))", "i * (-u)"),
        ("neg(neg(i))", "-(-i)"),
        ("neg(log(i))", "-log(i)"),
        ("neg(add(i, 1))", "-(i + 1)"),
        ("mul(add(i, u), sub(e, 2))", "(i + u) * (e - 2)"),
    ],
)
def test_canonical_infix(prefix, infix):
    loss = parse(prefix, "iou_reg")
    assert str(loss) == infix
    assert parse(infix, "iou_reg").to_prefix() == prefix


@pytest.mark.parametrize("name", sorted(known_losses()))
def test_known_loss_round_trips(name):
    loss = known_losses()[name]
    space = loss.space
    infix, prefix = str(loss), loss.to_prefix()
    for text in (infix, prefix):
        again = parse(text, space)
        assert again == loss
        assert str(again.tree) == str(loss.tree)  # the same DEAP tree, overload by overload
        assert str(again) == infix and again.to_prefix() == prefix
    assert Loss(loss.tree, space.name) == loss
    assert loss.size == len(loss.tree) and loss.key == f"{space.name}:{prefix}"


def test_loss_identity():
    a, b = parse("1 - i / u", "iou_reg"), parse("sub(1, div(i, u))", "iou_reg")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != parse("1 - u / i", "iou_reg")
    assert parse("-i", "iou_reg") != parse("-x", "sigmoid_cls")
    assert repr(a) == "Loss('1 - i / u', space='iou_reg')"


def test_every_node_gets_its_type():
    loss = parse("dot(softmax(x) - y, w * x)", "softmax_cls")
    assert loss.to_prefix() == "dot(sub(softmax(x), y), mul(w, x))"
    kinds = {node.name: node.type.__name__ for node in loss.expr.walk()}
    assert kinds == {"dot": "Scalar", "sub": "Vector", "softmax": "Vector", "x": "Vector", "y": "Vector",
                     "mul": "Vector", "w": "Scalar"}


# ---- deep formulas ---------------------------------------------------------------------------------------------


def _right_nested(n: int) -> str:
    return "".join("sub(i, " for _ in range(n - 1)) + "u" + ")" * (n - 1)


def _alternating(n: int) -> str:
    text = "i"
    for k in range(n - 1):
        text = f"neg({text})" if k % 2 else f"add(u, {text})"
    return text


@pytest.mark.parametrize(
    "builder",
    [
        lambda n: "neg(" * (n - 1) + "i" + ")" * (n - 1),
        lambda n: "-" * (n - 1) + "i",
        lambda n: "i" + " + i" * (n - 1),
        _right_nested,
        _alternating,
    ],
    ids=["neg-chain", "unary-minus", "left-chain", "right-nested", "alternating"],
)
def test_tallest_accepted_tree_round_trips_and_one_more_level_is_refused(builder):
    loss = parse(builder(MAX_HEIGHT), "iou_reg")
    assert loss.depth == MAX_HEIGHT - 1  # DEAP counts edges, the limit counts levels
    assert parse(str(loss), "iou_reg") == loss
    assert parse(loss.to_prefix(), "iou_reg") == loss
    with pytest.raises(FormulaSyntaxError, match="taller than|nested deeper") as info:
        parse(builder(MAX_HEIGHT + 1), "iou_reg")
    assert info.value.position is not None


@pytest.mark.parametrize(
    "text",
    [
        "(" * 5000 + "i" + ")" * 5000,
        "[" * 3000 + "i" + "]" * 3000,
        "-" * 10000 + "i",
        "neg(" * 3000 + "i" + ")" * 3000,
        "i" + "+i" * 9000,  # parsed by a loop, yet as tall as it is long
        "i" + "/u" * 9000,
        "(" * 20000,
    ],
    ids=["parens", "brackets", "minus", "calls", "plus-chain", "div-chain", "open-only"],
)
def test_huge_nesting_is_a_syntax_error_with_position(text):
    with pytest.raises(FormulaSyntaxError) as info:
        parse(text, "iou_reg")
    assert info.value.position is not None and 0 <= info.value.position <= len(text)
    assert "column" in str(info.value)


def test_too_long_formula():
    text = "i" + " + i" * (MAX_FORMULA_LENGTH // 4)
    assert len(text) > MAX_FORMULA_LENGTH
    with pytest.raises(FormulaSyntaxError, match="longer than") as info:
        parse(text, "iou_reg")
    assert info.value.position == MAX_FORMULA_LENGTH


# ---- bad input -------------------------------------------------------------------------------------------------

BAD = [
    # (formula, space, error, column (0-based), words in the message)
    ("log(i", "iou_reg", FormulaSyntaxError, 3, "unclosed '('"),
    ("(i + u", "iou_reg", FormulaSyntaxError, 0, "unclosed '('"),
    ("i +", "iou_reg", FormulaSyntaxError, 3, "expected a value"),
    ("i * / u", "iou_reg", FormulaSyntaxError, 4, "needs a left operand"),
    ("* i", "iou_reg", FormulaSyntaxError, 0, "needs a left operand"),
    ("2 i", "iou_reg", FormulaSyntaxError, 2, "missing operator"),
    ("2(i)", "iou_reg", FormulaSyntaxError, 1, "missing operator"),
    ("(i)(u)", "iou_reg", FormulaSyntaxError, 3, "missing operator"),
    ("i u", "iou_reg", FormulaSyntaxError, 2, "missing operator"),
    ("i $ u", "iou_reg", FormulaSyntaxError, 2, "unexpected character '$'"),
    ("i ^ 2", "iou_reg", FormulaSyntaxError, 2, "unexpected character '^'"),
    ("i ** 2", "iou_reg", FormulaSyntaxError, 3, "needs a left operand"),
    ("i; u", "iou_reg", FormulaSyntaxError, 1, "unexpected character ';'"),
    ("\u0661 + i", "iou_reg", FormulaSyntaxError, 0, "unexpected character"),  # an Arabic-Indic 1 is no constant
    ("i.real", "iou_reg", FormulaSyntaxError, 1, "unexpected character '.'"),
    ("i )", "iou_reg", FormulaSyntaxError, 2, "unexpected ')'"),
    ("(i]", "iou_reg", FormulaSyntaxError, 2, "expected ')'"),
    ("log(i,)", "iou_reg", FormulaSyntaxError, 6, "expected a value"),
    ("log(,i)", "iou_reg", FormulaSyntaxError, 4, "expected a value"),
    ("", "iou_reg", FormulaSyntaxError, 0, "empty formula"),
    ("   ", "iou_reg", FormulaSyntaxError, 3, "empty formula"),
    ("()", "iou_reg", FormulaSyntaxError, 1, "expected a value"),
    ("f(i)", "iou_reg", UnknownNameError, 0, "unknown function 'f'"),
    ("i + q", "iou_reg", UnknownNameError, 4, "unknown name 'q'"),
    ("lg(i)", "iou_reg", UnknownNameError, 0, "did you mean 'log'"),
    ("x + 1", "iou_reg", UnknownNameError, 0, "unknown name 'x'"),
    ("softmax(i)", "iou_reg", UnknownNameError, 0, "not in space 'iou_reg'"),
    ("erf(i)", "iou_reg", UnknownNameError, 0, "not in space 'iou_reg'"),
    ("dot(x, y)", "sigmoid_cls", UnknownNameError, 0, "not in space 'sigmoid_cls'"),
    ("i(u)", "iou_reg", UnknownNameError, 0, "is an input, not a function"),
    ("log(i, u)", "iou_reg", ArityError, 0, "log takes 1 argument, got 2"),
    ("1 + add(i)", "iou_reg", ArityError, 4, "add takes 2 arguments, got 1"),
    ("sin()", "iou_reg", ArityError, 0, "got 0"),
    ("log + i", "iou_reg", ArityError, 0, "must be called"),
    ("dot(w, y)", "softmax_cls", FormulaTypeError, 0, "dot does not take (Scalar, Vector)"),
    ("w + dot(x, w)", "softmax_cls", FormulaTypeError, 4, "dot does not take (Vector, Scalar)"),
    ("dot(softmax(w), y)", "softmax_cls", FormulaTypeError, 4, "softmax does not take (Scalar)"),
    ("softmax(x)", "softmax_cls", OutputTypeError, 0, "gives a Vector"),
    ("x * w", "softmax_cls", OutputTypeError, 0, "needs a Scalar"),
    ("4 * i + 1e400", "iou_reg", FormulaSyntaxError, 8, "number 1e400 is too large"),
    ("i / 1e-999", "iou_reg", FormulaSyntaxError, 4, "is too small"),
]


@pytest.mark.parametrize(("text", "space", "error", "column", "words"), BAD, ids=[repr(b[0]) for b in BAD])
def test_bad_formula(text, space, error, column, words):
    with pytest.raises(error) as info:
        parse(text, space)
    exc = info.value
    assert isinstance(exc, FormulaError) and isinstance(exc, GpAutolossError)
    assert exc.position == column
    assert words in str(exc)
    assert f"column {column + 1}" in str(exc)
    assert "\n" not in str(exc)


def test_error_classes():
    assert issubclass(OutputTypeError, FormulaTypeError)
    for cls in (FormulaSyntaxError, UnknownNameError, ArityError, FormulaTypeError):
        assert issubclass(cls, FormulaError)
    assert issubclass(SpaceError, GpAutolossError) and not issubclass(SpaceError, FormulaError)


def test_unknown_space():
    with pytest.raises(SpaceError, match="unknown space 'nope'; known: .*iou_reg.*softmax_cls"):
        parse("i", "nope")


def test_formula_must_be_text():
    with pytest.raises(FormulaSyntaxError, match="must be text"):
        parse(b"i + u", "iou_reg")  # type: ignore[arg-type]
    with pytest.raises(FormulaSyntaxError):
        parse(None, "iou_reg")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "template",
    [
        "__import__('os').system('touch {p}')",
        "__import__(\"os\").system(\"touch {p}\")",
        "exec(compile(open('{p}', 'w').write('x'), 'f', 'exec'))",
        "open('{p}', 'w')",
        "eval('open(\"{p}\", \"w\")')",
        "getattr(__builtins__, 'open')('{p}', 'w')",
        "i if open('{p}', 'w') else u",
        "lambda: open('{p}', 'w')",
        "[open('{p}', 'w') for i in u]",
    ],
)
def test_a_formula_never_runs_code(template, tmp_path):
    target = tmp_path / "pwned"
    text = template.format(p=target)
    for space in ("iou_reg", "softmax_cls"):
        with pytest.raises(FormulaError) as info:
            parse(text, space)
        assert info.value.position is not None
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_dunder_names_are_just_unknown_names():
    with pytest.raises(UnknownNameError, match="unknown function '__import__'"):
        parse("__import__(i)", "iou_reg")
    with pytest.raises(UnknownNameError, match="unknown name '__builtins__'"):
        parse("__builtins__ + i", "iou_reg")
