"""The root ``subctl`` app: global options, command registration, and ``main()``, the one place
where errors become messages and exit codes."""

import errno
import io
import os
import sys
import traceback
from typing import Annotated, Any

import typer

from subctl import __version__
from subctl.commands import (
    access,
    associate,
    audit,
    billing,
    clock,
    exports,
    imports,
    jobs,
    lifecycle,
    properties,
    report,
    segments,
    subscriptions,
    workspace,
)
from subctl.commands import config as config_cmd
from subctl.commands import filter as filter_cmd
from subctl.commands import profile as profile_cmd
from subctl.commands import sync as sync_cmd
from subctl.commands._command import SubctlGroup, use_subctl_classes
from subctl.context import AppContext
from subctl.errors import Aborted, DiskFull, StoreUnavailable, SubctlError
from subctl.export.values import visible
from subctl.files import PRIVATE_UMASK
from subctl.output import Output, silence


class _StdoutClosed(Exception):
    """stdout's reader went away while something other than ``Output`` wrote to it (help text,
    ``--version``): not an OSError, so that the CLI framework, which turns EPIPE into exit 1,
    lets it through to ``run``."""


def _stdout_failed(exc: OSError) -> SubctlError | None:
    """A write to stdout that failed other than by a closed pipe (``> /dev/full``, a full
    disk or quota, an I/O error), as the user can act on it; None for any other OSError (a
    file's own errors are mapped where the file is written, with its name)."""
    if exc.filename is not None or isinstance(exc, BrokenPipeError):
        return None
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(
            "disk full: cannot write the output",
            hint="free some space, or send the output to another disk",
        )
    if exc.errno in (errno.EIO, errno.EFBIG):
        return StoreUnavailable(f"cannot write the output: {exc.strerror or exc}")
    return None


class _RootGroup(SubctlGroup):
    def invoke(self, ctx: Any) -> Any:  # the framework's own Context class, not typer.Context
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise _StdoutClosed from exc
        except OSError as exc:
            failed = _stdout_failed(exc)
            if failed is None:
                raise
            silence(sys.stdout)  # what is still buffered must not fail again at exit
            raise failed from exc
        except Exception as exc:  # while the workspace is still open: a database error is exit 6
            mapped = ctx.obj.database_error(exc) if isinstance(ctx.obj, AppContext) else None
            if mapped is None:
                raise
            raise mapped from exc


app = typer.Typer(
    name="subctl",
    cls=_RootGroup,
    help="Administer recurring-billing subscriptions (HubSpot Commerce Subscriptions, 0-69).\n\n"
    "Example: subctl list --status unpaid",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,  # completion scripts ship in completions/ (see README)
    # Plain help and usage errors, as gh, sqlite-utils and llm print them: fast (no Rich help
    # rendering at startup), and usage errors read like every other error: "Error: ...".
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


COMPLETE_VAR = "_SUBCTL_COMPLETE"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"subctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace_: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="SUBCTL_WORKSPACE",
            metavar="PATH|URL",
            help="Workspace file or postgresql:// URL (default: the active profile's).",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", "-p", envvar="SUBCTL_PROFILE", metavar="NAME", help="Profile to use."
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            envvar="SUBCTL_ACTOR",
            metavar="NAME",
            help="Who the audit log names for this command's changes (default: the OS user).",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    app_ctx = ctx.obj if isinstance(ctx.obj, AppContext) else AppContext()  # run(context=...)
    app_ctx.workspace_target, app_ctx.profile = workspace_, profile
    app_ctx.actor = actor
    ctx.obj = app_ctx
    ctx.call_on_close(app_ctx.close)


# The order of --help: reading, then changing, then the workspace.
subscriptions.register(app)
filter_cmd.register(app)
segments.register(app)
exports.register(app)
report.register(app)
lifecycle.register(app)
associate.register(app)
imports.register(app)
properties.register(app)
jobs.register(app)
clock.register(app)
billing.register(app)
workspace.register(app)
access.register(app)
audit.register(app)
sync_cmd.register(app)
profile_cmd.register(app)
config_cmd.register(app)
use_subctl_classes(app)


def _degrade_unencodable() -> None:
    """On a terminal or pipe whose encoding cannot carry every character (``LANG=C`` without
    UTF-8 coercion, ``PYTHONIOENCODING=ascii``, a latin-1 console), write an escape such as
    ``\u2013`` for what it cannot show instead of failing in the middle of the output: in JSON
    that is the character itself, and elsewhere it is unambiguous, unlike a ``?``."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")


def _framework_usage_error(exc: Exception, out: Output) -> int | None:
    """A usage error of the CLI framework (a bad option value, a missing argument), said as
    subctl says errors: ``Error: …`` and a hint naming the help, no usage block. Returns the
    exit code, or None when ``exc`` is not one. (Recognised by its interface: subctl never
    imports the framework's exception classes.)"""
    message = getattr(exc, "format_message", None)
    code = getattr(exc, "exit_code", None)
    if not callable(message) or not isinstance(code, int):
        return None
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # a group run bare: its help is the answer
        out.message(str(message()).rstrip("\n"))
        return code
    hint = f"see `{ctx.command_path} --help`" if ctx is not None else None
    out.error(visible(str(message())), hint)
    return code


def run(argv: list[str] | None = None, *, context: AppContext | None = None) -> int:
    """Run the app; map every error to its one-line message and exit code. ``context``: the
    one the commands get (tests inject a scripted prompter through it); else a new one."""
    umask = os.umask(PRIVATE_UMASK)
    try:
        return _run(argv, context)
    finally:
        os.umask(umask)


def _run(argv: list[str] | None, context: AppContext | None) -> int:
    debug = os.environ.get("SUBCTL_DEBUG", "") not in ("", "0")
    _degrade_unencodable()
    out = context.out if context is not None else Output()
    if COMPLETE_VAR in os.environ:
        # A shell asking for completions (the scripts in completions/). The app is built with
        # add_completion=False, which keeps --help fast, so Typer's completion classes are
        # registered only here, when they are needed.
        from typer.completion import get_completion_inspect_parameters

        get_completion_inspect_parameters()  # registers Typer's shell completion classes
    try:
        try:
            # Not standalone: the framework's usage errors come here, to be said like every
            # other error (one line and a hint), and its "Aborted!" exit 1 never happens.
            code = app(args=argv, prog_name="subctl", standalone_mode=False, obj=context)
        finally:
            sys.stdout.flush()
        return code if isinstance(code, int) else 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except typer.Abort:  # end of input at a prompt
        out.error("aborted; nothing was changed")
        return Aborted.exit_code
    except (BrokenPipeError, _StdoutClosed):
        if debug:
            traceback.print_exc()
        silence(sys.stdout)
        return 0
    except SubctlError as exc:
        if debug:
            traceback.print_exc()
        from subctl.commands._hints import word

        word(exc)
        out.error(exc.message, exc.hint, exc.detail)
        return exc.exit_code
    except Exception as exc:  # anything unmapped is a bug: say so in one line
        failed = _stdout_failed(exc) if isinstance(exc, OSError) else None
        if failed is not None:  # the last flush of stdout, after the command
            silence(sys.stdout)
            out.error(failed.message, failed.hint)
            return failed.exit_code
        usage = _framework_usage_error(exc, out)
        if usage is not None:
            return usage
        if debug:
            raise
        out.error(f"unexpected {type(exc).__name__}: {exc}", "set SUBCTL_DEBUG=1 for a traceback")
        return 1
    return 0


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))
