"""Property definitions' building blocks: the type / fieldType matrix (DOMAIN.md §4), names,
labels, groups, sensitivities and options, each checked as HubSpot's Properties API does."""

from __future__ import annotations

import re
from collections.abc import Sequence

from subctl.errors import Action, Conflict, Next, UsageError
from subctl.schema import Option, PropertyRegistry, PropType
from subctl.services import validation

# -- the type / fieldType matrix (DOMAIN.md §4) ---------------------------------------------

FIELD_TYPES: dict[PropType, tuple[str, ...]] = {
    PropType.BOOL: ("booleancheckbox", "calculation_equation"),
    PropType.ENUMERATION: ("booleancheckbox", "checkbox", "radio", "select",
                           "calculation_equation"),
    PropType.DATE: ("date",),
    PropType.DATETIME: ("date",),
    PropType.STRING: ("text", "textarea", "file", "html", "phonenumber", "calculation_equation"),
    PropType.NUMBER: ("number", "calculation_equation"),
}  # fmt: skip
DEFAULT_FIELD_TYPE: dict[PropType, str] = {
    PropType.BOOL: "booleancheckbox",
    PropType.ENUMERATION: "select",
    PropType.DATE: "date",
    PropType.DATETIME: "date",
    PropType.STRING: "text",
    PropType.NUMBER: "number",
}
ALL_FIELD_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys(f for fs in FIELD_TYPES.values() for f in fs)
)
FIELD_TYPE_LABELS: dict[str, str] = {
    "text": "Single-line text",
    "textarea": "Multi-line text",
    "file": "File",
    "html": "Rich text",
    "phonenumber": "Phone number",
    "number": "Number",
    "date": "Date picker",
    "booleancheckbox": "Single checkbox",
    "checkbox": "Multiple checkboxes",
    "radio": "Radio select",
    "select": "Dropdown select",
    "calculation_equation": "Calculation",
}

SENSITIVITIES = ("non_sensitive", "sensitive", "highly_sensitive")
DEFAULT_GROUP = "subscriptioninformation"
NAME_MAX = 40
LABEL_MAX = 100
OPTION_LIMIT = 1000
UNIQUE_LIMIT = 10  # HubSpot: at most 10 unique-value properties per object
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED_NAMES = frozenset(
    {"and", "or", "not", "has", "in", "is", "between", "empty", "associations", "id"}
)

# -- type / fieldType ------------------------------------------------------------------------


def check_field_type(prop_type: PropType, field_type: str) -> str:
    """The field type, if it goes with the type (the §4 matrix); else a usage error listing the
    valid ones."""
    valid = FIELD_TYPES[prop_type]
    if field_type not in valid:
        raise UsageError(
            f'field type "{field_type}" does not go with type {prop_type.value}; '
            f"valid field types for {prop_type.value}: {', '.join(valid)}"
        )
    return field_type


# -- names, labels, groups -------------------------------------------------------------------


def check_name(name: str, registry: PropertyRegistry) -> str:
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f'invalid property name "{name}": use lower-case letters, digits and underscores, '
            "starting with a letter (e.g. subscription_tier)"
        )
    if len(name) > NAME_MAX:
        raise UsageError(f'property name "{name}" is longer than {NAME_MAX} characters')
    if name.startswith("hs_"):
        raise UsageError(f'property name "{name}" uses the prefix hs_, reserved for HubSpot')
    if name in RESERVED_NAMES:
        raise UsageError(f'"{name}" is a reserved word of the query language; choose another name')
    existing = registry.get(name)
    if existing is not None and existing.name == name:
        raise Conflict(
            f"property {name} already exists", next=Next(Action.VIEW_PROPERTY, {"name": name})
        )
    if existing is not None:
        raise UsageError(
            f'property name "{name}" is already used by {existing.name} ({existing.label}) '
            "as a name, alias or label"
        )
    return name


def check_label(label: str, registry: PropertyRegistry, own: str | None = None) -> str:
    label = label.strip()
    if not label:
        raise UsageError("the label cannot be empty")
    if len(label) > LABEL_MAX:
        raise UsageError(f"the label is longer than {LABEL_MAX} characters")
    control = validation.control_problem(label)
    if control:
        raise UsageError(f"the label: {control}")
    existing = registry.get(label)
    if existing is not None and existing.name != own:
        raise UsageError(
            f'label "{label}" is already used by {existing.name} ({existing.label}) '
            "as a name, alias or label"
        )
    return label


def check_group(group: str) -> str:
    if not NAME_PATTERN.match(group):
        raise UsageError(
            f'invalid group name "{group}": use lower-case letters, digits and underscores'
        )
    return group


def check_sensitivity(value: str) -> str:
    if value not in SENSITIVITIES:
        raise UsageError(f'invalid sensitivity "{value}"; one of: {", ".join(SENSITIVITIES)}')
    return value


# -- options ---------------------------------------------------------------------------------


def option_value(label: str) -> str:
    """The internal value for a label: snake case ("Pro plan" -> "pro_plan")."""
    return re.sub(r"[^0-9a-z]+", "_", label.casefold()).strip("_")


def parse_option(text: str) -> Option:
    """``LABEL`` or ``LABEL=value``."""
    label, eq, value = text.partition("=")
    label, value = label.strip(), value.strip()
    if not label:
        raise UsageError(f'option "{text}" has no label; use LABEL or LABEL=value')
    if not eq:
        value = option_value(label)
        if not value:
            raise UsageError(f'option "{label}" needs an explicit value: "{label}=value"')
    if not value:
        raise UsageError(f'option "{text}" has an empty value')
    if ";" in value:
        raise UsageError(f'option value "{value}" cannot contain ";" (the multi-value separator)')
    return Option(label=label, value=value)


def check_options(options: Sequence[Option]) -> tuple[Option, ...]:
    if len(options) > OPTION_LIMIT:
        raise UsageError(f"at most {OPTION_LIMIT} options")
    labels: set[str] = set()
    values: set[str] = set()
    for option in options:
        if option.value in values:
            raise UsageError(f'option value "{option.value}" is given twice')
        if option.label.casefold() in labels:
            raise UsageError(f'option label "{option.label}" is given twice')
        values.add(option.value)
        labels.add(option.label.casefold())
    return tuple(options)
