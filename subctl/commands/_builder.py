"""The interactive query builder of ``subctl filter`` (terminal only): field -> operator ->
value, repeated, then optionally saved as a view."""

from subctl.errors import Aborted
from subctl.output import Output
from subctl.query.compose import OPERATORS, condition_text
from subctl.schema import PropertyRegistry, PropType


def _ask(question: object) -> str:
    answer = question.ask()  # type: ignore[attr-defined]
    if answer is None:  # Ctrl-C inside questionary
        raise Aborted("aborted")
    return str(answer)


def build_query(
    registry: PropertyRegistry, out: Output, save_view: str | None
) -> tuple[str, str | None]:
    """Ask for conditions; returns (query text, view name or None)."""
    import questionary

    fields = sorted(registry, key=lambda p: p.label.lower())
    by_title = {f"{p.label} ({registry.short_name(p)})": p for p in fields}
    where = ""
    joiner: str | None = None  # how the next condition joins what is there
    last_joiner: str | None = None
    while True:
        title = _ask(
            questionary.autocomplete("Field:", choices=list(by_title), output=out.prompt_output())
        )
        prop = by_title.get(title) or registry.get(title)
        if prop is None:
            out.warn(f'unknown field "{title}"')
            continue
        operators = {o.label: o for o in OPERATORS[prop.type]}
        operator = operators[
            _ask(
                questionary.select("Operator:", choices=list(operators), output=out.prompt_output())
            )
        ]
        values: list[str] = []
        if operator.values == -1 and prop.options:
            picked = questionary.checkbox(
                "Values:", choices=[o.label for o in prop.options], output=out.prompt_output()
            ).ask()
            if not picked:
                raise Aborted("aborted")
            labels = {o.label: o.value for o in prop.options}
            values = [labels[p] for p in picked]
        elif operator.values == -1:
            values = _ask(
                questionary.text("Values (comma-separated):", output=out.prompt_output())
            ).split(",")
        elif operator.values == 2:
            values = [
                _ask(questionary.text(f"{w}:", output=out.prompt_output())) for w in ("From", "To")
            ]
        elif operator.values == 1:
            choices = ["true", "false"] if prop.type is PropType.BOOL else None
            question = (
                questionary.select("Value:", choices=choices, output=out.prompt_output())
                if choices
                else questionary.text("Value:", output=out.prompt_output())
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
    if (
        save_view is None
        and questionary.confirm("Save as a view?", default=False, output=out.prompt_output()).ask()
    ):
        save_view = _ask(questionary.text("View name:", output=out.prompt_output()))
    return where, save_view
