"""Custom property definitions: the rules of HubSpot's Properties API (DOMAIN.md §4) applied to
the subscription object, the account tier's custom-property cap, and the permission that shows
highly sensitive values. Pure functions over a ``RecordStore`` (definitions, values) and a
``Workspace`` (tier, caps, permissions); no typer, no rich.

One module per concern, re-exported here: ``fields`` (the type / fieldType matrix, names,
labels, options), ``rules`` (validation rules), ``definitions`` (create, check, edit, delete),
``account`` (tier caps, permissions, settings) and ``documents`` (the API's shapes).

**Definitions.** A custom property has an internal ``name`` (``^[a-z][a-z0-9_]*$``, at most
40 characters so that ``ix_subscriptions_cp_<name>`` stays within PostgreSQL's 63-character
identifiers; never ``hs_*``, HubSpot's prefix; never an existing property's name, alias or label,
nor a word of the query language), a ``label`` (unique among labels, names and aliases, since
queries resolve labels too), a ``type`` and a ``fieldType`` from ``FIELD_TYPES`` (the §4
matrix), a ``groupName`` (default ``subscriptioninformation``), options (enumerations only;
``LABEL[=value]``, the value defaulting to the label in snake case), validation rules
(``--rule TYPE[:args]``; see ``parse_rule`` and ``subctl.services.validation``), a
``dataSensitivity`` and ``hasUniqueValue`` (text and number properties only, at most
``UNIQUE_LIMIT`` per object, and fixed once created, as in HubSpot).

Calculated properties (``calculation_equation``) can be defined, but subctl does not evaluate
formulas: their values are read-only. Multiple-checkbox enumerations (``checkbox``) hold
``;``-separated option values.

**Editing.** Label, description, group, field type (within the type), options, rules and
sensitivity can change; name, type and uniqueness cannot. HubSpot-defined properties are
read-only definitions. An option still used by subscriptions (alone or within a multiple-checkbox
value) cannot be removed (exit 5), nor can a multiple-checkbox property change field type while
a subscription holds several values. New rules apply to values set from then on; existing
values are not re-checked (HubSpot behaves the same way).

**Tier caps** (not established by HubSpot, DOMAIN.md §4): the workspace setting
``account_tier`` (``free``, ``starter``, ``professional``, ``enterprise``; default ``free``)
selects a cap on the number of custom properties: by default free 10, starter 100,
professional 1,000, enterprise 1,000, each overridable with the setting
``custom_property_cap.<tier>``. Over the cap, ``create`` fails (exit 5) with the usage, while
existing properties stay viewable, editable and deletable (HubSpot's downgrade rule). Sensitive
and highly sensitive properties require the enterprise tier to be created or raised to that
sensitivity; existing ones keep working after a downgrade.

**Permission** to show highly sensitive values (``--show-sensitive``): the workspace setting
``permissions``, a comma-separated list, must contain ``sensitive_data.view``. It is empty by
default and is granted with ``subctl property settings --grant sensitive_data.view``. On a local
workspace this is an advisory guard against accidental disclosure (whoever can write the
workspace file can grant it); the remote store will defer to HubSpot's own permissions.
"""

from __future__ import annotations

from subctl.schema import CALCULATED
from subctl.services.properties.account import (
    CAP_KEY,
    DEFAULT_CAPS,
    DEFAULT_TIER,
    KNOWN_PERMISSIONS,
    PERMISSIONS_KEY,
    SENSITIVE_TIER,
    SENSITIVE_VIEW,
    TIER_KEY,
    TIERS,
    Limits,
    SettingsChange,
    account_tier,
    change_settings,
    limits,
    permissions,
    require_room,
    require_sensitive_access,
    require_sensitive_tier,
    settings_document,
    tier_cap,
)
from subctl.services.properties.definitions import (
    PropertyEdit,
    PropertySpec,
    SampleResult,
    build,
    check_sample,
    create,
    delete,
    edit,
    option_answer,
    plan_create,
    plan_delete,
    resolve,
    usage_count,
)
from subctl.services.properties.documents import (
    document,
    field_type_label,
    list_properties,
    list_row,
)
from subctl.services.properties.fields import (
    ALL_FIELD_TYPES,
    DEFAULT_FIELD_TYPE,
    DEFAULT_GROUP,
    FIELD_TYPE_LABELS,
    FIELD_TYPES,
    LABEL_MAX,
    NAME_MAX,
    NAME_PATTERN,
    OPTION_LIMIT,
    RESERVED_NAMES,
    SENSITIVITIES,
    UNIQUE_LIMIT,
    check_field_type,
    check_group,
    check_label,
    check_name,
    check_options,
    check_sensitivity,
    option_value,
    parse_option,
)
from subctl.services.properties.rules import (
    RULE_EXAMPLES,
    RULE_TARGETS,
    Rule,
    check_rule_target,
    check_rules,
    describe_rule,
    is_ascii_digits,
    parse_rule,
    rule_text,
)

__all__ = [
    "ALL_FIELD_TYPES",
    "CALCULATED",
    "CAP_KEY",
    "DEFAULT_CAPS",
    "DEFAULT_FIELD_TYPE",
    "DEFAULT_GROUP",
    "DEFAULT_TIER",
    "FIELD_TYPES",
    "FIELD_TYPE_LABELS",
    "KNOWN_PERMISSIONS",
    "LABEL_MAX",
    "Limits",
    "NAME_MAX",
    "NAME_PATTERN",
    "OPTION_LIMIT",
    "PERMISSIONS_KEY",
    "PropertyEdit",
    "PropertySpec",
    "RESERVED_NAMES",
    "RULE_EXAMPLES",
    "RULE_TARGETS",
    "Rule",
    "SENSITIVE_TIER",
    "SENSITIVE_VIEW",
    "SENSITIVITIES",
    "SampleResult",
    "SettingsChange",
    "TIERS",
    "TIER_KEY",
    "UNIQUE_LIMIT",
    "account_tier",
    "build",
    "change_settings",
    "check_field_type",
    "check_group",
    "check_label",
    "check_name",
    "check_options",
    "check_rule_target",
    "check_rules",
    "check_sample",
    "check_sensitivity",
    "create",
    "delete",
    "describe_rule",
    "document",
    "edit",
    "field_type_label",
    "is_ascii_digits",
    "limits",
    "list_properties",
    "list_row",
    "option_answer",
    "option_value",
    "parse_option",
    "parse_rule",
    "permissions",
    "plan_create",
    "plan_delete",
    "require_room",
    "require_sensitive_access",
    "require_sensitive_tier",
    "resolve",
    "rule_text",
    "settings_document",
    "tier_cap",
    "usage_count",
]
