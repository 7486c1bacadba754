"""The ``property`` group: create, list, view, edit, delete and settings of subscription
properties. Rules live in ``subctl.services.properties``; this module parses, asks (on a
terminal, for missing required fields) and renders."""

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from subctl.commands._options import (
    FormatOpt,
    YesOpt,
    effective_format,
    remember_group_format,
)
from subctl.context import AppContext
from subctl.errors import UsageError
from subctl.export import Column
from subctl.output import (
    FIELD_VALUE,
    Block,
    Document,
    Format,
    Heading,
    Pairs,
    Paragraph,
    Prompter,
    field_rows,
)
from subctl.schema import Property, PropType

if TYPE_CHECKING:
    from collections.abc import Sequence

    from subctl.schema import PropertyRegistry
    from subctl.services.properties import PropertySpec, SampleResult

property_app = typer.Typer(
    name="property",
    help="Subscription properties: custom property definitions, their validation rules, and "
    "the account tier's custom-property limit (without a command: list them).\n\n"
    "Example: subctl property create --name subscription_tier --label 'Subscription tier' "
    "--type enumeration --option Basic --option Professional --option Enterprise",
    invoke_without_command=True,
)


class Sensitivity(StrEnum):
    NON_SENSITIVE = "non_sensitive"
    SENSITIVE = "sensitive"
    HIGHLY_SENSITIVE = "highly_sensitive"


class Tier(StrEnum):
    FREE = "free"
    STARTER = "starter"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"


NameArg = Annotated[
    str, typer.Argument(metavar="NAME", help="Property internal name (or alias or label).")
]
FieldTypeOpt = Annotated[
    str | None,
    typer.Option(
        "--field-type",
        metavar="FIELD_TYPE",
        help="text, textarea, file, html, phonenumber, number, date, booleancheckbox, checkbox, "
        "radio, select or calculation_equation (must go with --type; default: the type's usual "
        "one).",
    ),
]
OptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--option", metavar="LABEL[=value]", help="An enumeration option; repeatable, in order."
    ),
]
RuleOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--rule",
        metavar="TYPE[:ARGS]",
        help="A validation rule, e.g. MIN_LENGTH:3, MAX_NUMBER:100, 'REGEX:^[A-Z]+$', "
        "EMAIL_ALLOWED_DOMAINS:acme.com,acme.io, DAYS_OF_WEEK:MON,FRI; repeatable.",
    ),
]
SensitivityOpt = Annotated[
    Sensitivity | None,
    typer.Option(
        "--sensitivity", case_sensitive=False, help="Data sensitivity (sensitive: enterprise)."
    ),
]
LIST_COLUMNS = [
    Column("name", "Name", whole=True),  # internal names are what commands take: never cut
    Column("label", "Label"),
    Column("type", "Type"),
    Column("fieldType", "Field type"),
    Column("groupName", "Group"),
    Column("custom", "Custom"),
    Column("dataSensitivity", "Sensitivity"),
    Column("rules", "Rules"),
]


# -- prompting (a terminal, missing required fields) -------------------------------------------


def _complete_spec(
    spec: "PropertySpec", ask: Prompter, missing: list[str], registry: "PropertyRegistry"
) -> None:
    """Ask for the missing required fields (name, label, type, field type, options), checking
    each answer as it is given."""
    from subctl.services import properties as svc

    if "name" in missing:
        spec.name = ask.text(
            "Internal name (e.g. subscription_tier):",
            check=lambda text: svc.check_name(text.strip(), registry),
        ).strip()
    if "label" in missing:
        default = spec.name.replace("_", " ").capitalize()
        spec.label = ask.text(
            "Label:", default=default, check=lambda text: svc.check_label(text, registry)
        ).strip()
    if "type" in missing:
        chosen = ask.select("Type:", [t.value for t in PropType], default=PropType.STRING.value)
        spec.type = PropType(chosen)
        valid = svc.FIELD_TYPES[spec.type]
        if spec.field_type is None and len(valid) > 1:
            spec.field_type = ask.select(
                "Field type:", valid, default=svc.DEFAULT_FIELD_TYPE[spec.type]
            )
    if spec.type is PropType.ENUMERATION and not spec.options and spec.field_type != svc.CALCULATED:
        field_type = spec.field_type or svc.DEFAULT_FIELD_TYPE[spec.type]
        answer = ask.text(
            "Options, comma-separated (LABEL or LABEL=value):",
            check=lambda text: svc.option_answer(spec.type, field_type, text),
        )
        spec.options = svc.option_answer(spec.type, field_type, answer)


# -- rendering -------------------------------------------------------------------------------


def _property_blocks(prop: Property, doc: dict[str, Any]) -> list[Block]:
    from subctl.services import properties as svc

    kind = "HubSpot-defined" if prop.hubspot_defined else "custom"
    pairs = [
        ("Name", prop.name),
        ("Label", prop.label),
        ("Type", f"{prop.type.value} / {prop.field_type} ({svc.field_type_label(prop)})"),
        ("Group", prop.group),
        ("Kind", kind + (" (read-only definition)" if prop.hubspot_defined else "")),
        ("Sensitivity", prop.sensitivity),
        ("Unique values", "yes" if prop.unique else "no"),
    ]
    if prop.description:
        pairs.append(("Description", prop.description))
    if prop.aliases:
        pairs.append(("Aliases", ", ".join(prop.aliases)))
    if "usage" in doc:
        pairs.append(("Subscriptions with a value", f"{doc['usage']:,}"))
    blocks: list[Block] = [Pairs(f"Property {prop.name}", pairs)]
    if prop.options:
        blocks.append(Pairs("Options", [(o.value, o.label) for o in prop.options]))
    if prop.rules:
        blocks.append(
            Pairs(
                "Validation rules",
                [(svc.rule_text(r), svc.describe_rule(r)) for r in prop.rules],
            )
        )
    return blocks


def _example(prop: Property) -> str:
    """How the field looks in a form (the article's "Example" tab), as text."""
    from subctl.services import properties as svc

    label = svc.field_type_label(prop)
    if prop.options:
        marker = {"radio": "( ) ", "checkbox": "[ ] ", "booleancheckbox": "[ ] "}.get(
            prop.field_type, ""
        )
        joiner = "  " if marker else " | "
        return f"{prop.label}: {label}\n  " + joiner.join(marker + o.label for o in prop.options)
    return f"{prop.label}: {label}\n  [{'_' * 24}]"


def _preview_blocks(prop: Property, sample: "SampleResult | None") -> list[Block]:
    from subctl.export.values import text_value

    blocks = [*_property_blocks(prop, {}), Heading("Example"), Paragraph(_example(prop)),
              Paragraph("")]  # fmt: skip
    if sample is not None:
        if sample.valid:
            blocks.append(Paragraph(f'✔ "{sample.text}" is valid: stored as '
                                    f"{text_value(sample.value)}"))  # fmt: skip
        else:
            blocks.append(Paragraph(f"✘ {sample.error}"))
    return blocks


def _document(doc: dict[str, Any], blocks: "Sequence[Block]" = ()) -> Document:
    """A property document: JSON as the Properties API's, CSV its scalar fields."""
    return Document(doc, field_rows(doc), FIELD_VALUE, blocks)


# -- commands --------------------------------------------------------------------------------


def property_create(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Option("--name", metavar="NAME", help="Internal name: ^[a-z][a-z0-9_]*$.")
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", metavar="TEXT", help="Label shown to users.")
    ] = None,
    type_: Annotated[
        PropType | None, typer.Option("--type", case_sensitive=False, help="Value type.")
    ] = None,
    field_type: FieldTypeOpt = None,
    group: Annotated[
        str | None,
        typer.Option("--group", metavar="GROUP", help="Property group (subscriptioninformation)."),
    ] = None,
    description: Annotated[
        str, typer.Option("--description", metavar="TEXT", help="Description.")
    ] = "",
    option: OptionOpt = None,
    rule: RuleOpt = None,
    sensitivity: SensitivityOpt = None,
    unique: Annotated[
        bool, typer.Option("--unique", help="Values must be unique (text and number).")
    ] = False,
    preview: Annotated[
        bool,
        typer.Option("--preview", help="Show the property and check --sample; create nothing."),
    ] = False,
    sample: Annotated[
        str | None,
        typer.Option("--sample", metavar="VALUE", help="With --preview: a value to validate."),
    ] = None,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Create a custom subscription property (HubSpot's Properties API fields).

    On a terminal, missing required fields (name, label, type) are asked for. Over the account
    tier's custom-property limit, creating fails with exit 5 (see `subctl property settings`).

    Example: subctl property create --name subscription_tier --label 'Subscription tier'
    --type enumeration --option Basic --option Professional --option Enterprise
    """
    from subctl.services import properties as svc

    app = AppContext.from_typer(ctx)
    records, workspace = app.records(), app.workspace()
    spec = svc.PropertySpec(
        name=name or "",
        label=label or "",
        type=type_ or PropType.STRING,
        field_type=field_type,
        group=group,
        description=description,
        options=option or [],
        rules=rule or [],
        sensitivity=(sensitivity or Sensitivity.NON_SENSITIVE).value,
        unique=unique,
    )
    missing = [f for f, v in (("name", name), ("label", label), ("type", type_)) if not v]
    if missing:
        if not app.can_prompt:
            flags = ", ".join(f"--{m}" for m in missing)
            raise UsageError(f"missing {flags}", hint="give them, or run on a terminal to be asked")
        _complete_spec(spec, app.prompter, missing, records.properties())
    if sample is not None and not preview:
        raise UsageError("--sample goes with --preview")
    if preview:
        prop = svc.plan_create(records, workspace, spec)
        result = (
            None if sample is None else svc.check_sample(prop, sample, app.today(), app.clock())
        )
        doc = svc.document(prop) | {"preview": True, "example": _example(prop)}
        if result is not None:
            doc["sample"] = {"text": result.text, "valid": result.valid, "error": result.error}
        app.out.detail(_document(doc, _preview_blocks(prop, result)), fmt)
        if result is not None and not result.valid:
            raise UsageError(result.error or "invalid sample")
        app.out.message("Preview only: nothing was created.")
        return
    prop, limits = svc.create(records, workspace, spec)
    app.out.result(
        _document(svc.document(prop)),
        fmt,
        f"Created property {prop.name} ({prop.type.value}/{prop.field_type}); {limits.describe()}",
    )


def property_default(ctx: typer.Context, fmt: FormatOpt = Format.AUTO) -> None:
    """Subscription properties (default: list them, as `subctl property list`).

    Example: subctl property --format csv
    """
    remember_group_format(ctx, fmt)
    if ctx.invoked_subcommand is None:
        property_list(ctx, custom=False, fmt=fmt)


def property_list(
    ctx: typer.Context,
    custom: Annotated[bool, typer.Option("--custom", help="Only custom properties.")] = False,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """List subscription properties: HubSpot-defined and custom.

    Example: subctl property list --custom
    """
    from subctl.services import properties as svc

    fmt = effective_format(ctx, fmt)
    app = AppContext.from_typer(ctx)
    props = svc.list_properties(app.records(), custom_only=custom)
    app.out.rows((svc.list_row(p) for p in props), LIST_COLUMNS, fmt, empty="No properties found.")


def property_view(ctx: typer.Context, name: NameArg, fmt: FormatOpt = Format.AUTO) -> None:
    """Show a property's definition: type, options, validation rules, sensitivity, usage.

    Example: subctl property view subscription_tier
    """
    from subctl.services import properties as svc

    app = AppContext.from_typer(ctx)
    records = app.records()
    prop = svc.resolve(records, name)
    doc = svc.document(prop, usage=svc.usage_count(records, prop))
    app.out.detail(_document(doc, _property_blocks(prop, doc)), fmt)


def property_edit(
    ctx: typer.Context,
    name: NameArg,
    label: Annotated[str | None, typer.Option("--label", metavar="TEXT", help="New label.")] = None,
    description: Annotated[
        str | None,
        typer.Option("--description", metavar="TEXT", help="New description ('' clears it)."),
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", metavar="GROUP", help="New group.")
    ] = None,
    field_type: FieldTypeOpt = None,
    option: OptionOpt = None,
    remove_option: Annotated[
        list[str] | None,
        typer.Option("--remove-option", metavar="VALUE", help="Remove an option; repeatable."),
    ] = None,
    rule: RuleOpt = None,
    remove_rule: Annotated[
        list[str] | None,
        typer.Option("--remove-rule", metavar="TYPE", help="Remove a rule; repeatable."),
    ] = None,
    clear_rules: Annotated[
        bool, typer.Option("--clear-rules", help="Remove every rule (before --rule).")
    ] = False,
    sensitivity: SensitivityOpt = None,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Edit a custom property: label, description, field type, options, rules, sensitivity.

    `--option LABEL=value` adds an option or relabels an existing value; `--rule` replaces the
    rule of the same type. Name, type and uniqueness cannot change; HubSpot-defined properties
    are read-only. Editing works over the tier's limit.

    Example: subctl property edit subscription_tier --option Premium --label "Plan tier"
    """
    from subctl.services import properties as svc

    app = AppContext.from_typer(ctx)
    change = svc.PropertyEdit(
        label=label,
        description=description,
        group=group,
        field_type=field_type,
        options=option or [],
        remove_options=remove_option or [],
        rules=rule or [],
        remove_rules=remove_rule or [],
        clear_rules=clear_rules,
        sensitivity=sensitivity.value if sensitivity else None,
    )
    prop = svc.edit(app.records(), app.workspace(), name, change)
    app.out.result(_document(svc.document(prop)), fmt, f"Updated property {prop.name}")


def property_delete(ctx: typer.Context, name: NameArg, yes: YesOpt = False) -> None:
    """Delete a custom property and its values.

    Asks first when subscriptions have values or saved views use the property (the views are
    kept, and fail until saved again without it).

    Example: subctl property delete subscription_tier --yes
    """
    from subctl.services import properties as svc

    app = AppContext.from_typer(ctx)
    records = app.records()
    prop, usage, views = svc.plan_delete(records, app.workspace(), name)
    if usage or views:
        values = f" and its values on {usage:,} subscription(s)" if usage else ""
        used = f"; saved views using it will fail: {', '.join(views)}" if views else ""
        app.confirm(f"Delete property {prop.name}{values}{used}?", yes=yes)
    svc.delete(records, prop)
    app.out.success(f"Deleted property {prop.name}" + (f" ({usage:,} values)" if usage else ""))
    if views:
        app.out.warn(f"saved views that use {prop.name} fail until saved again: {', '.join(views)}")


def property_settings(
    ctx: typer.Context,
    tier: Annotated[
        Tier | None, typer.Option("--tier", case_sensitive=False, help="Set the account tier.")
    ] = None,
    cap: Annotated[
        list[str] | None,
        typer.Option(
            "--cap",
            metavar="[TIER=]N",
            help="Override a tier's custom-property cap (TIER=default restores it); repeatable.",
        ),
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant", metavar="PERMISSION", help="Grant a permission (sensitive_data.view)."
        ),
    ] = None,
    revoke: Annotated[
        list[str] | None,
        typer.Option("--revoke", metavar="PERMISSION", help="Revoke a permission."),
    ] = None,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Show or change the account tier, custom-property caps and usage, and permissions.

    Default caps: free 10, starter 100, professional 1000, enterprise 1000 custom properties.
    Sensitive properties need the enterprise tier; showing highly sensitive values
    (--show-sensitive) needs the sensitive_data.view permission.

    Example: subctl property settings --tier professional --cap professional=500
    """
    from subctl.services import properties as svc

    app = AppContext.from_typer(ctx)
    records, workspace = app.records(), app.workspace()
    change = svc.SettingsChange(
        tier=tier.value if tier else None, caps=cap or [], grant=grant or [], revoke=revoke or []
    )
    if not change.empty():
        svc.change_settings(workspace, change, records)
    doc = svc.settings_document(records, workspace)
    usage = doc["customProperties"]
    blocks = [
        Pairs(
            "Workspace settings",
            [
                ("Account tier", doc["tier"]),
                (
                    "Custom properties",
                    f"{usage['usage']} of {usage['limit']} "
                    f"({usage['percentage']}%)" + ("" if usage["canCreate"] else ", limit reached"),
                ),
                (
                    "Unique-value properties",
                    f"{doc['uniqueProperties']['usage']} of {doc['uniqueProperties']['limit']}",
                ),
                ("Sensitive data", "available" if doc["sensitiveData"] else "enterprise only"),
                ("Caps", ", ".join(f"{t} {n}" for t, n in doc["caps"].items())),
                ("Permissions", ", ".join(doc["permissions"]) or "none"),
            ],
        )
    ]
    app.out.detail(_document(doc, blocks), fmt)
    if not change.empty():
        app.out.success("Settings updated")


def register(app: typer.Typer) -> None:
    property_app.callback()(property_default)
    property_app.command("create")(property_create)
    property_app.command("list")(property_list)
    property_app.command("view")(property_view)
    property_app.command("edit")(property_edit)
    property_app.command("delete")(property_delete)
    property_app.command("settings")(property_settings)
    app.add_typer(property_app)
