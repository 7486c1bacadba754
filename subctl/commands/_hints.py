"""CLI wording of typed errors: the flag an input was given with, and the command line of a
next step (``errors.Next``). Services say what went wrong and what can be done in their own
terms; this module says it in subctl's command lines. ``cli.run`` applies it to every error."""

from __future__ import annotations

from subctl.errors import Action, InputError, Next, SubctlError


def flag(name: str) -> str:
    """The option of an input: ``due_before`` -> ``--due-before``."""
    return "--" + name.replace("_", "-")


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
            return f"grant it with `subctl property settings --grant {args['permission']}`"
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


def _with_values(prop: str, values: list[str] | None = None) -> str:
    """The ``list`` command that shows the subscriptions with a value (of ``values``)."""
    if values is None:
        return f"subctl list --where 'has {prop}' --fields id,{prop}"
    return f"subctl list --where '{prop} in ({', '.join(values)})'"


def word(exc: SubctlError) -> None:
    """Give a typed error its CLI wording: the input's flag, the next step's hint."""
    if isinstance(exc, InputError):
        exc.worded(flag(exc.input))
    if exc.next is not None and exc.hint is None:
        exc.hint = hint(exc.next)
