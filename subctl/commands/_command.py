"""The command and group classes of every subctl command, given to the whole tree once
(``use_subctl_classes``, from ``cli.py``), so that no command can miss them:

- help in subctl's words: an argument is shown by its metavar (``ID``, ``[ID]...``), never by a
  framework type name (``<int range>``, ``{ID}``);
- no silent defaults: an option given an empty value on the command line (``--backup ''``,
  ``-w "$UNSET"``) is a usage error, not the option left out. An *empty environment variable*
  (``SUBCTL_WORKSPACE=``) counts as unset, as ``VAR= subctl …`` is the shell's way to unset a
  variable for one command.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup
from typer.models import DefaultPlaceholder

from subctl.errors import UsageError

if TYPE_CHECKING:
    from typer._click import Context, HelpFormatter, Parameter

# Options whose empty value means something: ``--description ''`` clears a description.
EMPTY_ALLOWED = frozenset({"--description"})
# What an empty value of an option is called in the error, by the option's metavar.
_EMPTY_NOUN = {"FILE": "path", "PATH|URL": "path", "PAIRS.CSV": "path", "EXPR": "query"}


def _option_name(param: Parameter) -> str:
    return max(param.opts, key=len) if param.opts else str(param.name)


def _refuse_empty_values(command: TyperCommand | TyperGroup, ctx: Context, args: list[str]) -> None:
    """An empty string given on the command line to an option: exit 2, naming it; text that is
    not UTF-8, in an option or an argument, likewise. The raw command line is read again (a
    path option has turned '' into "." by now)."""
    if ctx.resilient_parsing:  # shell completion: parse what is there, say nothing
        return
    given, _, _ = command.make_parser(ctx).parse_args(args=list(args))
    for param in command.get_params(ctx):
        if param.name not in given:
            continue
        value = given[param.name]
        _refuse_undecodable(param, value)
        if isinstance(param, TyperArgument):
            continue
        option = _option_name(param)
        if option in EMPTY_ALLOWED or "" not in (value if isinstance(value, list) else [value]):
            continue
        noun = _EMPTY_NOUN.get(str(param.metavar), "value")
        raise UsageError(
            f"{option}: empty {noun}",
            hint=f"give {option} a value or leave it out (an unset shell variable?)",
        )


def _refuse_undecodable(param: Parameter, value: object) -> None:
    """Bytes that are not UTF-8 (a file name or text in another encoding, reaching Python as
    lone surrogates) are refused before anything reads or stores them: exit 2, the byte shown."""
    for text in value if isinstance(value, list) else [value]:
        if not isinstance(text, str):
            continue
        bad = next((c for c in text if "\udc80" <= c <= "\udcff"), None)
        if bad is not None:
            name = (
                _argument_name(param) if isinstance(param, TyperArgument) else _option_name(param)
            )
            raise UsageError(
                f"{name}: not valid UTF-8 text (byte \\x{ord(bad) - 0xDC00:02x})",
                hint="give names and values in UTF-8",
            )


def _argument_name(param: TyperArgument) -> str:
    name = param.metavar or str(param.name).upper()
    return name + ("..." if param.nargs != 1 else "")


def _usage_pieces(ctx: Context, params: list[Parameter], options_metavar: str | None) -> list[str]:
    pieces = [options_metavar] if options_metavar else []
    for param in params:
        if isinstance(param, TyperArgument):
            name = param.metavar or str(param.name).upper()
            shown = name if param.required else f"[{name}]"
            pieces.append(shown + ("..." if param.nargs != 1 else ""))
        else:
            pieces.extend(param.get_usage_pieces(ctx))
    return pieces


_ID_BOUNDS = re.compile(r"(; )?1<=x<=9223372036854775807")


def _format_parameters(ctx: Context, params: list[Parameter], formatter: HelpFormatter) -> None:
    """The Arguments and Options sections, arguments named by their metavar alone."""
    arguments: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    for param in params:
        record = param.get_help_record(ctx)
        if record is None:
            continue
        if isinstance(param, TyperArgument):
            # the help alone: the bounds of a record id are no reading matter
            required = "  [required]" if param.required else ""
            arguments.append((_argument_name(param), (param.help or "") + required))
        else:  # likewise the bounds of an id option (a 64-bit maximum)
            options.append((record[0], _ID_BOUNDS.sub("", record[1]).replace("  []", "")))
    for title, rows in (("Arguments", arguments), ("Options", options)):
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)


class SubctlCommand(TyperCommand):
    def invoke(self, ctx: Context) -> Any:
        """Before the command's function runs: the permissions its verb declares
        (``services/access.NEEDS``, exit 4) and its name and options for the audit log."""
        from subctl.context import AppContext

        app = ctx.find_root().obj
        if isinstance(app, AppContext):
            app.begin(" ".join(ctx.command_path.split()[1:]), dict(ctx.params))
        return super().invoke(ctx)

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        given = list(args)
        rest = super().parse_args(ctx, args)
        _refuse_empty_values(self, ctx, given)
        return rest

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        return _usage_pieces(ctx, self.get_params(ctx), self.options_metavar)

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        _format_parameters(ctx, self.get_params(ctx), formatter)


class SubctlGroup(TyperGroup):
    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        given = list(args)
        rest = super().parse_args(ctx, args)
        _refuse_empty_values(self, ctx, given)
        return rest

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        _format_parameters(ctx, self.get_params(ctx), formatter)
        self.format_commands(ctx, formatter)


def use_subctl_classes(app: typer.Typer) -> None:
    """Make every command and group registered on ``app``, recursively, use the classes above
    (a class chosen explicitly at registration is kept)."""
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):  # Typer's default
            command.cls = SubctlCommand
    for group in app.registered_groups:
        if isinstance(group.cls, DefaultPlaceholder) or group.cls is TyperGroup:
            group.cls = SubctlGroup
        sub: Any = group.typer_instance
        if sub is not None:
            use_subctl_classes(sub)
