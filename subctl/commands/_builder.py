"""The interactive query builder of ``subctl filter`` (terminal only): field -> operator ->
value, repeated, then optionally saved as a view. Every answer is checked as it is given and
asked again when it is wrong, so that no answer given before it is lost."""

import datetime as dt
import re
from collections.abc import Callable

from subctl.errors import SubctlError, UsageError
from subctl.output import Output, answer
from subctl.query.compose import OPERATORS, BuilderOperator, condition_text
from subctl.schema import Property, PropertyRegistry, PropType

Check = Callable[[str], object]  # raises a SubctlError for a bad answer


def validator(check: Check) -> Callable[[str], bool | str]:
    """For questionary's ``validate=``: True for a good answer, else the error, shown under the
    answer, which is then asked again."""

    def validate(text: str) -> bool | str:
        try:
            check(text)
        except SubctlError as exc:
            return exc.message
        return True

    return validate


def _ask(question: object) -> str:
    return str(answer(question))


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
    save_view: str | None,
    *,
    today: dt.date,
    check_view_name: Check,
) -> tuple[str, str | None]:
    """Ask for conditions; returns (query text, view name or None)."""
    import questionary

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
        prop = find(
            _ask(
                questionary.autocomplete(
                    "Field:",
                    choices=list(by_title),
                    validate=validator(find),
                    output=out.prompt_output(),
                )
            )
        )
        operators = {o.label: o for o in OPERATORS[prop.type]}
        operator = operators[
            _ask(
                questionary.select("Operator:", choices=list(operators), output=out.prompt_output())
            )
        ]
        check = validator(_value_check(registry, prop, operator, today))
        values: list[str] = []
        if operator.values == -1 and prop.options:
            picked = answer(
                questionary.checkbox(
                    "Values:",
                    choices=[o.label for o in prop.options],
                    validate=lambda picked: bool(picked) or "pick at least one value",
                    output=out.prompt_output(),
                )
            )
            labels = {o.label: o.value for o in prop.options}
            values = [labels[p] for p in picked]
        elif operator.values == -1:
            values = _ask(
                questionary.text(
                    "Values (comma-separated):", validate=check, output=out.prompt_output()
                )
            ).split(",")
        elif operator.values == 2:
            values = [
                _ask(questionary.text(f"{w}:", validate=check, output=out.prompt_output()))
                for w in ("From", "To")
            ]
        elif operator.values == 1:
            choices = ["true", "false"] if prop.type is PropType.BOOL else None
            question = (
                questionary.select("Value:", choices=choices, output=out.prompt_output())
                if choices
                else questionary.text("Value:", validate=check, output=out.prompt_output())
            )
            values = [_ask(question)]
        condition = condition_text(registry.short_name(prop), operator, values)
        if joiner is None:
            where = condition
        else:
            # conditions combine in the order given: switching and/or brackets what came before
            if last_joiner not in (None, joiner):
                where = f"({where})"
            where, last_joiner = f"{where} {joiner} {condition}", joiner
        more = _ask(
            questionary.select(
                "Add another condition?", choices=["no", "and", "or"], output=out.prompt_output()
            )
        )
        if more == "no":
            break
        joiner = more
    out.message(f"Query: {where}")
    if save_view is None and answer(
        questionary.confirm("Save as a view?", default=False, output=out.prompt_output())
    ):
        save_view = _ask(
            questionary.text(
                "View name:", validate=validator(check_view_name), output=out.prompt_output()
            )
        )
    return where, save_view
