"""CLI wording of typed errors: the flag an input was given with, and the command line of a
next step (``errors.Next``). Services say what went wrong and what can be done in their own
terms; this module says it in subctl's command lines. ``cli.run`` applies it to every error."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from subctl.errors import Action, Call, InputError, Next, Opt, SubctlError

_ARGUMENTS = {"ids": "IDs"}  # inputs given as arguments, not options


def flag(name: str) -> str:
    """The option of an input: ``due_before`` -> ``--due-before``."""
    if name in _ARGUMENTS:
        return _ARGUMENTS[name]
    return "--" + name.replace("_", "-")


def option(opt: Opt) -> str:
    """An input as typed: ``Opt("refund", "unused")`` -> ``--refund unused``."""
    return flag(opt.input) if opt.value is None else f"{flag(opt.input)} {opt.value}"


def line(step: Call) -> str:
    """A command as typed: ``Call("cancel", (Opt("at_period_end"),))`` ->
    ``subctl cancel --at-period-end``."""
    return " ".join([*(["subctl"] if step.program else []), step.verb, *map(option, step.opts)])


def words(parts: Sequence[str | Opt | Call]) -> str:
    """A text naming inputs and commands, each named as typed."""
    return "".join(
        option(part)
        if isinstance(part, Opt)
        else f"`{line(part)}`"
        if isinstance(part, Call)
        else part
        for part in parts
    )


def command(path: Path | str | None, verb: str) -> str:
    """A command line naming the workspace: a file unless it is the default one, or a database
    URL (given with its password masked, ``describe_url``), shell-quoted."""
    from subctl.config import default_workspace_path

    if isinstance(path, str):
        return f"subctl -w {shlex.quote(path)} {verb}"
    try:
        default = default_workspace_path().expanduser().resolve()
    except (OSError, RuntimeError):  # a symlink loop: the path given is not the default one
        default = None
    if path is None or path == default:
        return f"subctl {verb}"
    return f"subctl -w {shlex.quote(str(path))} {verb}"


_USE_VERB = {
    "canceled": "use `subctl cancel`",
    "paused": "use `subctl pause`",
    "active": "use `subctl pay` (unpaid, past due) or `subctl resume` (paused)",
}


def hint(step: Next) -> str:
    args = step.args
    match step.action:
        case Action.REPLACE_CONTACT:
            record = args["record"] if args.get("record") is not None else "new --create …"
            return f"replace it: subctl associate {args['sub']} --contact {record} --replace"
        case Action.REMOVE_PAYMENT:
            return (
                f"remove it there first: subctl associate {args['sub']} "
                f"--payment {args['record']} --remove"
            )
        case Action.SET_TIER:
            return f"subctl property settings --tier {args['tier']}"
        case Action.GRANT:
            then = f", then {args['then']}" if args.get("then") else ""
            return f"grant it with `subctl property settings --grant {args['permission']}`{then}"
        case Action.LIST_PROPERTIES:
            return "see `subctl property list`"
        case Action.VIEW_PROPERTY:
            return f"see `subctl property view {args['name']}`"
        case Action.EDIT_PROPERTY_HELP:
            return "see `subctl property edit --help`"
        case Action.LEAVE_ONE_VALUE:
            return f"leave one value on each first; see {_with_values(args['property'])}"
        case Action.CHANGE_VALUES:
            listing = _with_values(args["property"], args.get("values"))
            return f"change those values first, e.g. {listing}"
        case Action.EXAMPLE:
            option = flag(args["input"])
            return "e.g. " + " ".join(f"{option} {value}" for value in args["values"])
        case Action.SELECT:
            return (
                "give IDs, --from-file FILE, --where EXPR, --view NAME, --segment NAME or "
                "--plan FILE"
            )
        case Action.NEW_PLAN:
            return "write a new plan with --dry-run --plan-out"
        case Action.USE_VERB:
            return _USE_VERB.get(args["status"], "status follows the lifecycle verbs")
        case Action.REFUND_PENDING:
            return f"refund it with `subctl cancel {args['sub']} --refund-pending`"
        case Action.CANCEL_NOW:
            return f"cancel it now with `subctl cancel {args['sub']}`"
        case Action.RETRY_BATCH:
            return "run the command again (or `subctl jobs resume JOB`): items are re-read first"
        case Action.RESUME_JOB:
            return f"resume it with `subctl jobs resume {args['job']}`"
        case Action.LIST_VIEWS:
            return "list views with `subctl views`"
        case Action.LIST_JOBS:
            return "list batches with `subctl jobs`"
        case Action.CREATE_WORKSPACE:
            init = f"create one with `{command(args.get('path'), 'init')}`"
            if not args.get("demo"):
                return init
            return f"{init} (or `{command(args.get('path'), 'demo')}` for sample data)"
        case Action.ADOPT_WORKSPACE:
            return (
                f"choose another path, or run `{command(args.get('path'), 'init')} --force` to "
                "add subctl's tables to it"
            )
        case Action.UPGRADE_WORKSPACE:
            return f"run `{command(args.get('path'), 'init')}` to upgrade it"
        case Action.NAME_WORKSPACE_FILE:
            return f"e.g. --workspace {Path(args['path']) / 'workspace.db'}"
        case Action.CHOOSE_WORKSPACE:
            return "check the path and its permissions, or choose another with --workspace"
        case Action.RECOVER_WORKSPACE:
            return (
                f"restore it from a backup, salvage it with `sqlite3 {args['where']} .recover`, "
                "or start a new one with `subctl --workspace NEW.db init`"
            )
        case Action.WORK_ON_COPY:
            return (
                "reading verbs work; to change it, get write access to the file and its"
                " directory, or work on a copy (-w COPY)"
            )
        case Action.INSTALL_DRIVER:
            return f"PostgreSQL workspaces need the driver: pip install 'subctl[{args['extra']}]'"
        case Action.FIND_DUPLICATES:
            name = args["property"]
            return (
                f"find them with `subctl list --fields {name} --sort {name}`, give them "
                "distinct values, and run init again"
            )


def _with_values(prop: str, values: list[str] | None = None) -> str:
    """The ``list`` command that shows the subscriptions with a value (of ``values``)."""
    if values is None:
        return f"subctl list --where 'has {prop}' --fields id,{prop}"
    return f"subctl list --where '{prop} in ({', '.join(values)})'"


def word(exc: SubctlError) -> None:
    """Give a typed error its CLI wording: the input's flag, the next step's hint."""
    if isinstance(exc, InputError):
        exc.worded(flag(exc.input))
    elif exc.words is not None:
        exc.reworded(words(exc.words))
    if exc.next is not None and exc.hint is None:
        exc.hint = hint(exc.next)
    elif exc.next is not None and exc.next.action is Action.RESUME_JOB:
        exc.hint = f"{exc.hint}; {hint(exc.next)}"  # what the driver said, then how to resume
