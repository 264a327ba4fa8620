"""Extending without guessing (issue 14.2, 14.3, 14.6): registrations are checked when made, with one error that
names the fix; ``extend_space`` adds primitives to a space; unknown names point at plugins; adapter options are
checked for every adapter."""

from __future__ import annotations

import random

import pytest

from gp_autoloss import KNOWN_LOSSES, parse, random_loss, register_known_loss
from gp_autoloss.cli.main import EXIT_BAD_INPUT, main
from gp_autoloss.errors import ConfigError, SpaceError, UnknownNameError
from gp_autoloss.fitness.base import ADAPTERS, FitnessAdapter, create_adapter, register_adapter
from gp_autoloss.search import SearchConfig
from primitives import (
    BINARY,
    PRIMITIVES,
    SPACES,
    UNARY,
    Input,
    RegistrationError,
    Scalar,
    SearchSpace,
    extend_space,
    get_space,
    register_primitive,
    register_space,
)


@pytest.fixture
def cleanup():
    """Names registered by a test, removed afterwards: ``cleanup(registry, name)``."""
    added: list[tuple[object, str]] = []
    yield lambda registry, name: added.append((registry, name))
    for registry, name in reversed(added):
        if name in registry:
            registry.remove(name)


# ---- primitives ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "pow_t", "signatures": BINARY, "infix": "^"}, "infix '^' cannot be parsed back"),
        ({"name": "plus_t", "signatures": BINARY, "infix": "+"}, "infix '+' with 2 argument(s) is already 'add'"),
        ({"name": "my op", "signatures": UNARY}, "cannot be written in a formula"),
        ({"name": "2x", "signatures": UNARY}, "cannot be written in a formula"),
        ({"name": "x", "signatures": UNARY}, "named like an input of a registered space"),
        ({"name": "empty_t", "signatures": ()}, "has no signatures: pass at least one, e.g. UNARY"),
    ],
)
def test_bad_primitive_registrations_are_refused_with_the_fix(kwargs, words, cleanup):
    cleanup(PRIMITIVES, kwargs["name"])
    with pytest.raises(RegistrationError) as info:
        register_primitive(fn=lambda *a: a[0], **kwargs)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert kwargs["name"] not in PRIMITIVES


def test_a_valid_infix_primitive_round_trips(cleanup):
    cleanup(PRIMITIVES, "sq_t")
    register_primitive("sq_t", lambda a: a * a, UNARY)
    cleanup(SPACES, "sq_space_t")
    space = register_space(SearchSpace("sq_space_t", (Input("p", Scalar), Input("t", Scalar)), Scalar,
                                       ("add", "sub", "mul", "neg", "sq_t"), initial_loss=None))  # fmt: skip
    rng = random.Random(1)
    for _ in range(200):
        loss = random_loss(space, rng)
        assert parse(str(loss), space) == loss


# ---- spaces ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("space", "words"),
    [
        (SearchSpace("exp_in_t", (Input("exp", Scalar),), Scalar, ("add",)), "input 'exp' is named like a primitive"),
        (SearchSpace("spc_t", (Input("my input", Scalar),), Scalar, ("add",)), "cannot be written in a formula"),
        (SearchSpace("seg bin", (Input("p", Scalar),), Scalar, ("add",)), "space name 'seg bin' must be"),
        (SearchSpace("nan_t", (Input("p", Scalar),), Scalar, ("add",), constants=(float("nan"),)),
         "constant nan must be a finite number"),
        (SearchSpace("noin_t", (), Scalar, ("add",)), "has no inputs"),
    ],
)
def test_bad_space_registrations_are_refused_with_the_fix(space, words, cleanup):
    cleanup(SPACES, space.name)
    with pytest.raises(RegistrationError, match=words.replace("(", r"\(")):
        register_space(space)
    assert space.name not in SPACES


def test_a_known_loss_that_does_not_parse_is_refused_at_registration(cleanup):
    cleanup(KNOWN_LOSSES, "typo_t")
    with pytest.raises(RegistrationError, match="known loss 'typo_t' does not parse in space 'iou_reg'"):
        register_known_loss("typo_t", "iou_reg", "1 - i / v")


def test_a_space_without_initial_loss_needs_initial_before_anything_is_created(cleanup, tmp_path, capsys):
    """The spaces docstring's own example (``initial_loss=None``): refused with the fix, nothing created;
    with ``--initial`` it is a valid search."""
    cleanup(SPACES, "my_task_t")
    register_space(SearchSpace("my_task_t", (Input("p", Scalar), Input("t", Scalar)), Scalar,
                               ("add", "sub", "mul", "abs", "log"), initial_loss=None))  # fmt: skip
    with pytest.raises(ConfigError, match="has no initial loss: pass --initial FORMULA"):
        SearchConfig(space="my_task_t", adapter="toy").check_values().validate()
    out = tmp_path / "run"
    rc = main(["search", "--space", "my_task_t", "--out", str(out), "-q"])
    err = capsys.readouterr().err
    assert rc == EXIT_BAD_INPUT and "--initial" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    from gp_autoloss.known import resolve_initial

    assert str(resolve_initial("my_task_t", "abs(p - t)")) == "abs(p - t)"


def test_a_space_whose_initial_loss_names_nothing_says_how_to_fix_it(cleanup):
    cleanup(SPACES, "ghost_t")
    register_space(SearchSpace("ghost_t", (Input("p", Scalar),), Scalar, ("add",), initial_loss="nothing_here"))
    with pytest.raises(ConfigError, match=r"register_known_loss\('nothing_here', 'ghost_t', FORMULA\)"):
        SearchConfig(space="ghost_t").validate()


# ---- extend_space -------------------------------------------------------------------------------------------------


def test_extend_space_adds_primitives_in_place_and_as_a_new_space(cleanup):
    cleanup(PRIMITIVES, "square_t2")
    register_primitive("square_t2", lambda a: a * a, UNARY, doc="a^2")
    original = get_space("iou_reg")
    with pytest.raises(UnknownNameError, match=r"extend_space\('iou_reg', primitives=\('square_t2',\)\)"):
        parse("square_t2(1 - i / u)", "iou_reg")
    cleanup(SPACES, "iou_reg_sq_t")
    new = extend_space("iou_reg", primitives=("square_t2",), constants=(0.5,), name="iou_reg_sq_t")
    assert get_space("iou_reg") is original and "square_t2" not in original.primitives
    assert str(parse("square_t2(1 - i / u) * 0.5", new)) == "square_t2(1 - i / u) * 0.5"
    assert 0.5 in new.constants and any(n.startswith("square_t2_") for n in new.overloads)
    try:
        extended = extend_space("iou_reg", primitives=("square_t2",))
        assert get_space("iou_reg") is extended and extended.primitives[-1] == "square_t2"
        assert str(parse("square_t2(1 - i / u)", "iou_reg")) == "square_t2(1 - i / u)"
        assert extended.initial_loss == original.initial_loss
    finally:
        register_space(original, replace=True)
    with pytest.raises(KeyError):
        extend_space("iou_reg", primitives=("no_such_primitive",))


# ---- error messages that name the fix --------------------------------------------------------------------------------


def test_unknown_function_and_space_mention_plugins():
    with pytest.raises(UnknownNameError, match=r"did you mean 'sin'\?\); if a plugin defines it, pass --plugin"):
        parse("min(i, u)", "iou_reg")
    with pytest.raises(SpaceError, match="unknown space 'seg_bin'.*is it defined by a plugin\\? pass --plugin"):
        parse("p", "seg_bin")


def test_unknown_config_field_suggests_the_known_one():
    with pytest.raises(ConfigError, match=r"plugin \(did you mean plugins\?\)"):
        SearchConfig.from_dict({"plugin": ["x"]})


def test_help_lists_what_is_registered_when_it_is_shown(cleanup, capsys):
    cleanup(SPACES, "help_space_t")
    register_space(SearchSpace("help_space_t", (Input("p", Scalar),), Scalar, ("add",)))
    cleanup(ADAPTERS, "help_adapter_t")

    @register_adapter("help_adapter_t")
    class _Adapter(FitnessAdapter):
        def verify(self, loss, seed):  # pragma: no cover - never scored here
            return 0.0

        proxy = verify

    for argv in (["search", "--help"], ["show", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = " ".join(capsys.readouterr().out.split())
        assert "help_space_t" in text and "softmax_cls" in text
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    assert "help_adapter_t" in " ".join(capsys.readouterr().out.split())


def test_a_plugin_adapters_options_are_checked(cleanup):
    cleanup(ADAPTERS, "steps_t")

    @register_adapter("steps_t")
    class _Declared(FitnessAdapter):
        accepted_options = ("steps", "lr")

        def verify(self, loss, seed):  # pragma: no cover
            return 0.0

        proxy = verify

    assert create_adapter("steps_t", "iou_reg", steps=5).options == {"steps": 5}
    with pytest.raises(ConfigError, match=r"adapter 'steps_t': unknown option\(s\) stepz \(did you mean steps\?\)"):
        create_adapter("steps_t", "iou_reg", stepz=5)

    cleanup(ADAPTERS, "sig_t")

    @register_adapter("sig_t")
    class _BySignature(FitnessAdapter):
        def __init__(self, space: str, *, steps: int = 3) -> None:
            super().__init__(space, steps=steps)

        def verify(self, loss, seed):  # pragma: no cover
            return 0.0

        proxy = verify

    with pytest.raises(ConfigError, match="did you mean steps"):
        create_adapter("sig_t", "iou_reg", stepz=5)

    cleanup(ADAPTERS, "none_t")

    @register_adapter("none_t")
    class _Undeclared(FitnessAdapter):
        def verify(self, loss, seed):  # pragma: no cover
            return 0.0

        proxy = verify

    with pytest.raises(ConfigError, match=r"takes no options \(got stepz\); .*accepted_options"):
        create_adapter("none_t", "iou_reg", stepz=5)
    with pytest.raises(ConfigError, match=r"adapter 'toy': unknown option\(s\) stepz \(did you mean steps\?\)"):
        create_adapter("toy", "iou_reg", stepz=5)
