"""The click application built from `table.py`: help, --version, and every argv the fast parser
declines. Its callbacks only hand back what they parsed; `cli.dispatch` runs the command."""

from __future__ import annotations

import click

from .. import SPEC_VERSION, __version__
from .table import COMMANDS, FLAG, GLOBAL_OPTS, INT, MULTI, Cmd, Opt

DESCRIPTION = """pyoci is an Open Container Initiative runtime written in Python, command-line
compatible with runc. Containers are configured using bundles: a directory with a
specification file named "config.json" and a root filesystem.

To start a new instance of a container:

    pyoci run [ -b bundle ] <container-id>
"""


def version_text() -> str:
    import platform

    from ..seccomp import libseccomp_version

    return (f"pyoci version {__version__}\nspec: {SPEC_VERSION}\n"
            f"python: {platform.python_version()}\nlibseccomp: {libseccomp_version() or 'not found'}")


def _option(o: Opt) -> click.Option:
    decls = ["--" + o.name] + (["-" + o.short] if o.short else [])
    if o.kind == FLAG:
        return click.Option(decls, is_flag=True, default=False, help=o.help)
    if o.kind == INT:
        return click.Option(decls, type=int, default=o.default, show_default=True, help=o.help)
    if o.kind == MULTI:
        return click.Option(decls, multiple=True, help=o.help)
    return click.Option(decls, default=o.default, show_default=o.default not in (None, "."),
                        metavar="VALUE", help=o.help)


class _Group(click.Group):
    def resolve_command(self, ctx: click.Context, args: list[str]):
        # runc spells "help" also as "h".
        if args and args[0] == "h":
            args = ["help"] + args[1:]
        return super().resolve_command(ctx, args)


def build(result: dict) -> click.Group:
    """Return the click group; a successful parse fills `result` with (globals, cmd, kwargs)."""

    def make(cmd: Cmd) -> click.Command:
        params: list[click.Parameter] = [_option(o) for o in cmd.opts]
        tails = {a[1:].replace("-", "_") for a in cmd.args if a.startswith("*")}
        for a in cmd.args:
            if a.startswith("*"):
                params.append(click.Argument([a[1:].replace("-", "_")], nargs=-1, type=click.UNPROCESSED))
            else:
                params.append(click.Argument([a.lstrip("?").replace("-", "_")], required=not a.startswith("?"),
                                             metavar="<" + a.lstrip("?") + ">"))

        def callback(**kw: object) -> None:
            for k, v in kw.items():
                # "exec ID -- cmd": the separator is not part of the command (same as fastparse)
                if isinstance(v, tuple) and v[:1] == ("--",) and k in tails:
                    kw[k] = v[1:]
            ctx = click.get_current_context()
            result["parsed"] = (ctx.find_root().params, cmd, kw)

        tail = bool(cmd.args) and cmd.args[-1].startswith("*")
        return click.Command(cmd.name, params=params, callback=callback, help=cmd.description or cmd.help,
                             short_help=cmd.help,
                             context_settings={"allow_interspersed_args": not tail,
                                               "ignore_unknown_options": False})

    group = _Group("pyoci", help=DESCRIPTION, params=[_option(o) for o in GLOBAL_OPTS],
                   context_settings={"help_option_names": ["--help", "-h"]})
    group.params.append(click.Option(["--version", "-v"], is_flag=True, expose_value=False, is_eager=True,
                                     help="print the version",
                                     callback=lambda ctx, _p, v: v and (click.echo(version_text()), ctx.exit(0))))
    for cmd in COMMANDS.values():
        group.add_command(make(cmd))

    @group.command("help", help="Shows a list of commands or help for one command")
    @click.argument("command", required=False)
    def help_(command: str | None) -> None:
        ctx = click.get_current_context()
        target = group.get_command(ctx, command) if command else None
        if command and target is None:
            raise click.UsageError(f"No help topic for '{command}'")
        parent = ctx.parent
        if target is None:
            click.echo(group.get_help(parent))
        else:
            with click.Context(target, info_name=command, parent=parent) as sub:
                click.echo(target.get_help(sub))
        ctx.exit(0)

    return group
