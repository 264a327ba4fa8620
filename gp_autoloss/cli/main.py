"""Entry point of ``gp-autoloss``: loads plugins, builds the parser from the command registry, maps errors to
exit 2.

Plugins (see :mod:`gp_autoloss.plugins`) are loaded before the parser is built, so what they register (spaces,
adapters, export formats, even subcommands) is known to every command: ``GP_AUTOLOSS_PLUGINS``, then every
``--plugin MODULE`` of the command line, then installed packages' entry points (which give way, with a note, to a
name taken before them).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from gp_autoloss.cli.dash_formulas import protect_formulas
from gp_autoloss.cli.registry import COMMANDS
from gp_autoloss.errors import GpAutolossError

__all__ = ["main", "build_parser", "plugin_arguments", "EXIT_BAD_INPUT"]

EXIT_BAD_INPUT = 2

#: modules whose import registers subcommands
COMMAND_MODULES = (
    "gp_autoloss.cli.formula_commands", "gp_autoloss.cli.search_commands", "gp_autoloss.cli.check_command",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's own convention too)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


PLUGIN_HELP = ("plugin module to import for this call (registers primitives, spaces, adapters, ...); repeatable. "
               "Installed plugin packages (entry point group gp_autoloss.plugins) and the modules in "
               "GP_AUTOLOSS_PLUGINS (comma-separated) are loaded too")


def plugin_arguments(argv: Sequence[str]) -> list[str]:
    """The ``--plugin`` values of a command line (wherever they stand), before the full parse."""
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--plugin", action="append", default=[])
    try:
        known, _ = pre.parse_known_args(list(argv))
    except SystemExit:  # "--plugin" without a value: the full parse reports it
        return []
    return list(known.plugin)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    parser = _Parser(
        prog="gp-autoloss",
        description="Discover loss functions for object detection by strongly-typed genetic programming.",
    )
    from gp_autoloss import __version__

    parser.add_argument("--version", action="version", version=f"gp-autoloss {__version__}")
    # also accepted before the command; loaded (like every --plugin) before this parser was built
    parser.add_argument("--plugin", action="append", default=[], dest="global_plugins", metavar="MODULE",
                        help=PLUGIN_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.description, epilog=cmd.epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter, add_help=cmd.add_help)
        cmd.configure(p)
        p.add_argument("--plugin", action="append", default=[], metavar="MODULE", help=PLUGIN_HELP)
        p.set_defaults(_handler=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 a check failed, 2 bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        from gp_autoloss.plugins import load_plugins, skipped_plugins

        load_plugins(plugin_arguments(argv))
    except GpAutolossError as exc:
        print(f"gp-autoloss: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for skipped in skipped_plugins():  # an installed plugin that gave way to a name taken before it
        print(f"gp-autoloss: note: {skipped.note()}", file=sys.stderr)
    parser = build_parser()
    try:
        args = parser.parse_args(protect_formulas(argv, parser))  # "-dot(...)" is a formula, not an option
    except BrokenPipeError:  # --help piped into a reader that stops early (``... --help | head``)
        return _quiet_broken_pipe()
    if getattr(args, "_handler", None) is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args._handler(args))
    except GpAutolossError as exc:
        print(f"gp-autoloss: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("gp-autoloss: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _quiet_broken_pipe() -> int:
    """The reader went away (``gp-autoloss show ... | head -1``): stop quietly, and keep Python's final flush of
    stdout from raising again at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
