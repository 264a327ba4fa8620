"""Subcommand registry: each command module registers a parser builder and a handler."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from primitives import Registry

__all__ = ["Command", "COMMANDS", "command"]

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """A CLI subcommand: ``configure`` adds its arguments, ``run`` executes it and returns the exit code.
    ``add_help=False``: ``configure`` adds its own ``-h/--help`` (``search`` lists adapter options there)."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Handler
    description: str = ""
    epilog: str = ""
    add_help: bool = True


COMMANDS: Registry[Command] = Registry("command")


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None], *, description: str = "",
            epilog: str = "", add_help: bool = True) -> Callable[[Handler], Handler]:  # fmt: skip
    """Decorator registering ``run`` as the handler of subcommand ``name``."""

    def deco(run: Handler) -> Handler:
        COMMANDS.add(name, Command(name, help, configure, run, description or help, epilog, add_help))
        return run

    return deco
