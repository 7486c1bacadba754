"""The interactive query builder of ``subctl filter`` (terminal only): field -> operator ->
value, repeated, then optionally saved as a view. Every answer is checked as it is given and
asked again when it is wrong, so that no answer given before it is lost."""

import datetime as dt
import re

from subctl.errors import UsageError
from subctl.output import Check, Output, Prompter
from subctl.query.compose import OPERATORS, BuilderOperator, condition_text
from subctl.schema import Property, PropertyRegistry, PropType


def _value_check(
    registry: PropertyRegistry, prop: Property, operator: BuilderOperator, today: dt.date
) -> Check:
    """Checks one answer for ``operator``'s value(s) by parsing the condition it makes (a
    between's bound stands for both bounds)."""
    from subctl.query.parser import parse

    field = registry.short_name(prop)

    def check(text: str) -> None:
        values = text.split(",") if operator.values == -1 else [text] * max(operator.values, 1)
        try:
            parse(condition_text(field, operator, values), registry, today=today)
        except UsageError as exc:  # the column is the built condition's: no use here
            raise UsageError(re.sub(r" at column \d+", "", exc.message)) from None

    return check


def build_query(
    registry: PropertyRegistry,
    out: Output,
    ask: Prompter,
    save_view: str | None,
    *,
    today: dt.date,
    check_view_name: Check,
) -> tuple[str, str | None]:
    """Ask for conditions; returns (query text, view name or None)."""
    fields = sorted(registry, key=lambda p: p.label.lower())
    by_title = {f"{p.label} ({registry.short_name(p)})": p for p in fields}

    def find(title: str) -> Property:
        prop = by_title.get(title) or registry.get(title.strip())
        if prop is None:
            raise UsageError(f'unknown field "{title}"')
        return prop

    where = ""
    joiner: str | None = None  # how the next condition joins what is there
    last_joiner: str | None = None
    while True:
        prop = find(ask.autocomplete("Field:", list(by_title), check=find))
        operators = {o.label: o for o in OPERATORS[prop.type]}
        operator = operators[ask.select("Operator:", list(operators))]
        check = _value_check(registry, prop, operator, today)
        values: list[str] = []
        if operator.values == -1 and prop.options:
            picked = ask.checkbox("Values:", [o.label for o in prop.options])
            labels = {o.label: o.value for o in prop.options}
            values = [labels[p] for p in picked]
        elif operator.values == -1:
            values = ask.text("Values (comma-separated):", check=check).split(",")
        elif operator.values == 2:
            values = [ask.text(f"{w}:", check=check) for w in ("From", "To")]
        elif operator.values == 1:
            if prop.type is PropType.BOOL:
                values = [ask.select("Value:", ["true", "false"])]
            else:
                values = [ask.text("Value:", check=check)]
        condition = condition_text(registry.short_name(prop), operator, values)
        if joiner is None:
            where = condition
        else:
            # conditions combine in the order given: switching and/or brackets what came before
            if last_joiner not in (None, joiner):
                where = f"({where})"
            where, last_joiner = f"{where} {joiner} {condition}", joiner
        more = ask.select("Add another condition?", ["no", "and", "or"])
        if more == "no":
            break
        joiner = more
    out.message(f"Query: {where}")
    if save_view is None and ask.confirm("Save as a view?", default=False):
        save_view = ask.text("View name:", check=check_view_name)
    return where, save_view
