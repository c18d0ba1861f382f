"""`toolchain` subcommands for flags (STUB until its issue lands)."""

from __future__ import annotations

import argparse

__all__ = ["add_commands"]


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register this module's subcommands on the `toolchain` parser."""
    return None
