"""`scrumy demo` reaches the `scrumy` command line as a plugin: an entry point of the
`scrumy.commands` group (pyproject.toml), loaded by `scrumy.cli` only when asked for."""

from __future__ import annotations

import click
from click.testing import CliRunner

from demo.cli import demo
from scrumy.cli import PLUGIN_GROUP, cli, plugin_commands


def test_the_demo_is_a_command_of_scrumy() -> None:
    assert plugin_commands()["demo"].value == "demo.cli:demo"
    with click.Context(cli) as ctx:
        assert cli.get_command(ctx, "demo") is demo
        assert "demo" in cli.list_commands(ctx)
        assert cli.get_command(ctx, "no-such-command") is None

    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.stdout and "no account needed" in result.stdout
    assert PLUGIN_GROUP == "scrumy.commands"


def test_its_help_says_what_it_does() -> None:
    result = CliRunner().invoke(cli, ["demo", "--help"])
    assert result.exit_code == 0
    assert "--serve" in result.stdout and "Ctrl-C" in result.stdout
