"""A small argv parser for the table in `table.py`, so the hot commands never import click.

It accepts runc's spellings (`--flag value`, `--flag=value`, `-b value`, `-bvalue`, bool
`--flag=true`) and returns None for anything else; the caller then hands argv to click, which
either parses it or explains the usage error.
"""

from __future__ import annotations

from .table import COMMANDS, FLAG, GLOBAL_OPTS, INT, MULTI, Cmd, Opt

_BOOL = {"true": True, "1": True, "false": False, "0": False}


def _index(opts: tuple[Opt, ...]) -> dict[str, Opt]:
    idx: dict[str, Opt] = {}
    for o in opts:
        idx["--" + o.name] = o
        # urfave/cli accepts a single dash for long names too (`-root`).
        idx["-" + o.name] = o
        if o.short:
            idx["-" + o.short] = o
    return idx


def _take(opt: Opt, value: str | None, argv: list[str], i: int, out: dict) -> int | None:
    """Store opt's value; return the next index, or None if argv is not in a shape we accept."""
    if opt.kind == FLAG:
        if value is None:
            out[opt.dest] = True
        elif value.lower() in _BOOL:
            out[opt.dest] = _BOOL[value.lower()]
        else:
            return None
        return i
    if value is None:
        if i >= len(argv):
            return None
        value, i = argv[i], i + 1
    if opt.kind == INT:
        if not value.isdigit():
            return None
        out[opt.dest] = int(value)
    elif opt.kind == MULTI:
        out[opt.dest] = out.get(opt.dest, ()) + (value,)
    else:
        out[opt.dest] = value
    return i


def _parse_opts(argv: list[str], i: int, index: dict[str, Opt], out: dict,
                max_positionals: int | None) -> tuple[int, list[str]] | None:
    """Parse options interspersed with positionals, stopping once max_positionals are read;
    return (next index, positionals) or None."""
    positionals: list[str] = []
    while i < len(argv) and (max_positionals is None or len(positionals) < max_positionals):
        a = argv[i]
        i += 1
        if a == "--":
            positionals.extend(argv[i:])
            return len(argv), positionals
        if a.startswith("-") and a != "-":
            name, eq, value = a.partition("=")
            opt = index.get(name)
            if opt is None and not eq and len(a) > 2 and a[1] != "-":
                opt = index.get(a[:2])  # -bVALUE
                value, eq = a[2:], "="
            if opt is None:
                return None
            nxt = _take(opt, value if eq else None, argv, i, out)
            if nxt is None:
                return None
            i = nxt
            continue
        positionals.append(a)
    return i, positionals


def parse_globals(argv: list[str]) -> tuple[dict, int, str | None] | None:
    """Return (global options, index after the command name, command name) or None."""
    g: dict = {o.dest: o.default for o in GLOBAL_OPTS}
    r = _parse_opts(argv, 0, _index(GLOBAL_OPTS), g, max_positionals=1)
    if r is None:
        return None
    return g, r[0], (r[1][0] if r[1] else None)


def parse(argv: list[str]) -> tuple[dict, Cmd, dict] | None:
    """Return (global options, command, command kwargs) or None to defer to click."""
    r = parse_globals(argv)
    if r is None or r[2] not in COMMANDS:
        return None
    g, i, cmd = r[0], r[1], COMMANDS[r[2]]
    kw: dict = {o.dest: o.default for o in cmd.opts}
    fixed = [a for a in cmd.args if not a.startswith("*")]
    tail = cmd.args[-1][1:] if cmd.args and cmd.args[-1].startswith("*") else None
    # A '*' tail (exec's command line) starts right after the fixed positionals, verbatim.
    r = _parse_opts(argv, i, _index(cmd.opts), kw, len(fixed) if tail else None)
    if r is None:
        return None
    i, values = r
    rest = argv[i:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    if tail:
        kw[tail.replace("-", "_")] = tuple(values[len(fixed):] + rest)
        values = values[:len(fixed)]
    required = [a for a in fixed if not a.startswith("?")]
    if not (len(required) <= len(values) <= len(fixed)):
        return None
    for n, name in enumerate(fixed):
        kw[name.lstrip("?").replace("-", "_")] = values[n] if n < len(values) else None
    return g, cmd, kw
