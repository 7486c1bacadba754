"""Creating, checking, editing and deleting custom property definitions (see
``subctl.services.properties``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from subctl.errors import Action, InputError, InvalidState, Next, NotFound, UsageError
from subctl.query.ast import Condition, Op, Query
from subctl.schema import (
    CALCULATED,
    MASK,
    MULTI_VALUE,
    Option,
    Property,
    PropertyRegistry,
    PropType,
)
from subctl.services.properties.account import (
    Limits,
    limits,
    require_room,
    require_sensitive_tier,
)
from subctl.services.properties.fields import (
    DEFAULT_FIELD_TYPE,
    DEFAULT_GROUP,
    SENSITIVITIES,
    check_field_type,
    check_group,
    check_label,
    check_name,
    check_options,
    check_sensitivity,
    parse_option,
)
from subctl.services.properties.rules import Rule, check_rules, parse_rule
from subctl.store.base import RecordStore, Workspace

# -- building definitions --------------------------------------------------------------------


@dataclass
class PropertySpec:
    """``property create``'s options, as given (texts are parsed and checked by ``build``)."""

    name: str
    label: str
    type: PropType
    field_type: str | None = None
    group: str | None = None
    description: str = ""
    options: Sequence[str] = ()
    rules: Sequence[str] = ()
    sensitivity: str = "non_sensitive"
    unique: bool = False


def build(spec: PropertySpec, registry: PropertyRegistry) -> Property:
    """A checked ``Property`` from a spec (no store access besides the registry)."""
    name = check_name(spec.name.strip(), registry)
    label = check_label(spec.label, registry)
    field_type = check_field_type(spec.type, spec.field_type or DEFAULT_FIELD_TYPE[spec.type])
    options = check_options([parse_option(o) for o in spec.options])
    _check_options_for(spec.type, field_type, options)
    rules = check_rules([parse_rule(r) for r in spec.rules], spec.type, field_type)
    if spec.unique:
        _check_unique_type(spec.type, field_type)
    return Property(
        name=name,
        label=label,
        type=spec.type,
        field_type=field_type,
        options=options,
        description=spec.description.strip(),
        group=check_group(spec.group or DEFAULT_GROUP),
        hubspot_defined=False,
        sensitivity=check_sensitivity(spec.sensitivity),
        unique=spec.unique,
        rules=rules,
    )


def option_answer(prop_type: PropType, field_type: str, answer: str) -> list[str]:
    """Options given as one comma-separated answer (``LABEL`` or ``LABEL=value`` each),
    checked as ``--option`` values are."""
    texts = [text.strip() for text in answer.split(",") if text.strip()]
    _check_options_for(prop_type, field_type, check_options([parse_option(t) for t in texts]))
    return texts


def _check_options_for(prop_type: PropType, field_type: str, options: Sequence[Option]) -> None:
    if prop_type is not PropType.ENUMERATION:
        if options:
            raise InputError(
                "option", f"applies to enumeration properties, not {prop_type.value}", sep=" "
            )
        return
    if not options and field_type != CALCULATED:
        raise UsageError(
            "an enumeration needs at least one option",
            next=Next(
                Action.EXAMPLE,
                {"input": "option", "values": ["Basic", "Professional", "Enterprise"]},
            ),
        )


def _check_unique_type(prop_type: PropType, field_type: str) -> None:
    if (prop_type, field_type) not in ((PropType.STRING, "text"), (PropType.NUMBER, "number")):
        raise InputError(
            "unique", "applies to single-line text and number properties only", sep=" "
        )


# -- create / preview / edit / delete ----------------------------------------------------------


def plan_create(records: RecordStore, workspace: Workspace, spec: PropertySpec) -> Property:
    """Every check ``create`` makes (definition, tier cap, sensitivity), without creating."""
    prop = build(spec, records.properties())
    require_sensitive_tier(workspace, prop.sensitivity, records)
    require_room(records, workspace, prop)
    return prop


def create(
    records: RecordStore, workspace: Workspace, spec: PropertySpec
) -> tuple[Property, Limits]:
    prop = plan_create(records, workspace, spec)
    records.create_property(prop)
    return prop, limits(records, workspace)


@dataclass(frozen=True)
class SampleResult:
    text: str
    value: Any = None
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.error is None


def check_sample(
    prop: Property, text: str, today: dt.date, now: dt.datetime | None = None
) -> SampleResult:
    """Validate a sample value as ``update --set`` would (the article's "Example" tab); the
    value of a highly sensitive property is masked in the result, like everywhere else."""
    from subctl.services.values import coerce_value

    try:
        result = SampleResult(text, coerce_value(prop, text, today=today, now=now))
    except UsageError as exc:
        result = SampleResult(text, error=exc.message)
    if not prop.highly_sensitive:
        return result
    error = result.error.replace(text, MASK) if result.error and text else result.error
    return SampleResult(MASK, None if result.value is None else MASK, error)


def resolve(records: RecordStore, name: str) -> Property:
    prop = records.properties().get(name)
    if prop is None:
        suggestion = records.properties().suggest(name)
        raise NotFound(
            f'property "{name}" not found',
            hint=f'did you mean "{suggestion}"?' if suggestion else None,
            next=Next(Action.LIST_PROPERTIES),
        )
    return prop


def _custom_only(prop: Property, verb: str) -> None:
    if prop.hubspot_defined:
        raise InvalidState(
            f"{prop.name} is a HubSpot-defined property; its definition is read-only",
            hint=f"only custom properties can be {verb}",
        )


@dataclass
class PropertyEdit:
    """``property edit``'s options; None / empty: unchanged."""

    label: str | None = None
    description: str | None = None
    group: str | None = None
    field_type: str | None = None
    options: Sequence[str] = ()  # add, or relabel an existing value
    remove_options: Sequence[str] = ()  # values or labels
    rules: Sequence[str] = ()  # set (replacing a rule of the same type)
    remove_rules: Sequence[str] = ()  # rule types
    clear_rules: bool = False
    sensitivity: str | None = None

    def empty(self) -> bool:
        return not (
            self.label is not None or self.description is not None or self.group is not None
            or self.field_type is not None or self.options or self.remove_options or self.rules
            or self.remove_rules or self.clear_rules or self.sensitivity is not None
        )  # fmt: skip


def _edited_options(prop: Property, edit: PropertyEdit) -> tuple[tuple[Option, ...], list[str]]:
    """The new option list and the removed values."""
    options = list(prop.options)
    removed: list[str] = []
    for text in edit.remove_options:
        match = next(
            (o for o in options if o.value == text or o.label.casefold() == text.casefold()), None
        )
        if match is None:
            raise UsageError(
                f'{prop.name} has no option "{text}"; options: {", ".join(prop.option_values())}'
            )
        options.remove(match)
        removed.append(match.value)
    for text in edit.options:
        new = parse_option(text)
        at = next((i for i, o in enumerate(options) if o.value == new.value), None)
        if at is None:
            options.append(new)
        else:
            options[at] = replace(options[at], label=new.label)
    return check_options(options), removed


def _edited_rules(prop: Property, edit: PropertyEdit) -> list[Rule]:
    rules = {} if edit.clear_rules else dict(prop.rules)
    for text in edit.remove_rules:
        rule_type = text.strip().upper()
        if rule_type not in rules:
            have = ", ".join(rules) or "none"
            raise UsageError(f"{prop.name} has no {rule_type} rule (its rules: {have})")
        del rules[rule_type]
    for text in edit.rules:
        rule_type, args = parse_rule(text)
        rules[rule_type] = args
    return list(rules.items())


def edit(records: RecordStore, workspace: Workspace, name: str, change: PropertyEdit) -> Property:
    """Apply an edit to a custom property; allowed over the tier cap (the downgrade rule)."""
    prop = resolve(records, name)
    _custom_only(prop, "edited")
    if change.empty():
        raise UsageError("nothing to change", next=Next(Action.EDIT_PROPERTY_HELP))
    registry = records.properties()
    field_type = prop.field_type
    if change.field_type is not None:
        field_type = check_field_type(prop.type, change.field_type)
    options, removed = prop.options, list[str]()
    if change.options or change.remove_options:
        if prop.type is not PropType.ENUMERATION:
            raise UsageError(f"{prop.name} is a {prop.type.value} property; it has no options")
        options, removed = _edited_options(prop, change)
    _check_options_for(prop.type, field_type, options)
    rules = check_rules(_edited_rules(prop, change), prop.type, field_type)
    sensitivity = prop.sensitivity
    if change.sensitivity is not None:
        sensitivity = check_sensitivity(change.sensitivity)
        if SENSITIVITIES.index(sensitivity) > SENSITIVITIES.index(prop.sensitivity):
            require_sensitive_tier(workspace, sensitivity, records)
    if prop.unique:
        _check_unique_type(prop.type, field_type)
    if removed:
        _check_options_unused(records, prop, removed)
    if prop.multi_value and field_type != MULTI_VALUE:
        several = sum(len(values) > 1 for values in _multi_values(records, prop))
        if several:
            raise InvalidState(
                f"cannot change {prop.name} to {field_type}: {several} subscription(s) have "
                "several values",
                next=Next(Action.LEAVE_ONE_VALUE, {"property": prop.name}),
            )
    updated = replace(
        prop,
        label=check_label(change.label, registry, own=prop.name)
        if change.label is not None
        else prop.label,
        description=change.description.strip()
        if change.description is not None
        else prop.description,
        group=check_group(change.group) if change.group is not None else prop.group,
        field_type=field_type,
        options=options,
        rules=rules,
        sensitivity=sensitivity,
    )
    records.update_property(updated)
    return updated


def _multi_values(records: RecordStore, prop: Property) -> Iterator[set[str]]:
    """The option values of each subscription with a value for a multiple-checkbox property."""
    query = Query(where=Condition(prop.name, Op.HAS_PROPERTY))
    for sub in records.search(query, fields=[prop.name]):
        yield set(str(sub.properties[prop.name]).split(";"))


def _check_options_unused(records: RecordStore, prop: Property, removed: Sequence[str]) -> None:
    """An option still used by subscriptions cannot be removed: with a multiple-checkbox
    property, a subscription uses every option in its ``;``-separated value."""
    if prop.multi_value:
        in_use = sum(bool(values.intersection(removed)) for values in _multi_values(records, prop))
        values: list[str] | None = None  # every value
    else:
        in_use = records.count(Condition(prop.name, Op.IN, tuple(removed)))
        values = list(removed)
    if in_use:
        raise InvalidState(
            f"cannot remove option(s) {', '.join(removed)} of {prop.name}: "
            f"{in_use} subscription(s) use them",
            next=Next(Action.CHANGE_VALUES, {"property": prop.name, "values": values}),
        )


def usage_count(records: RecordStore, prop: Property) -> int:
    """How many subscriptions have a value for the property."""
    return records.count(Condition(prop.name, Op.HAS_PROPERTY))


def plan_delete(
    records: RecordStore, workspace: Workspace, name: str
) -> tuple[Property, int, list[str]]:
    """The custom property to delete, how many subscriptions have a value for it, and the
    saved views that use it. Deleting keeps those views: they fail with a clear error until
    they are saved again without it (views are the user's; nothing of theirs goes silently)."""
    from subctl.services.views import views_using

    prop = resolve(records, name)
    _custom_only(prop, "deleted")
    return prop, usage_count(records, prop), views_using(records, workspace, prop.name)


def delete(records: RecordStore, prop: Property) -> None:
    records.delete_property(prop.name)
