"""Property definitions as documents: the Properties API's shape (``property view --format
json``) and the rows of ``property list``."""

from __future__ import annotations

from typing import Any

from subctl.schema import CALCULATED, Property, PropType
from subctl.services.properties.fields import FIELD_TYPE_LABELS
from subctl.services.properties.rules import describe_rule
from subctl.store.base import RecordStore

# -- documents -------------------------------------------------------------------------------


def document(prop: Property, *, usage: int | None = None) -> dict[str, Any]:
    """A property definition in the Properties API's shape (``property view --format json``)."""
    doc: dict[str, Any] = {
        "name": prop.name,
        "label": prop.label,
        "type": prop.type.value,
        "fieldType": prop.field_type,
        "groupName": prop.group,
        "description": prop.description,
        "options": [
            {"label": o.label, "value": o.value, "description": o.description,
             "displayOrder": i, "hidden": False}
            for i, o in enumerate(prop.options)
        ],
        "validationRules": [
            {"ruleType": t, "ruleArguments": list(args), "description": describe_rule((t, args))}
            for t, args in prop.rules
        ],
        "dataSensitivity": prop.sensitivity,
        "hasUniqueValue": prop.unique,
        "hubspotDefined": prop.hubspot_defined,
        "calculated": prop.field_type == CALCULATED,
        "modificationMetadata": {
            "archivable": not prop.hubspot_defined,
            "readOnlyDefinition": prop.hubspot_defined,
            "readOnlyValue": prop.read_only_value or prop.field_type == CALCULATED,
        },
        "aliases": list(prop.aliases),
    }  # fmt: skip
    if usage is not None:
        doc["usage"] = usage
    return doc


def list_row(prop: Property) -> dict[str, Any]:
    return {
        "name": prop.name,
        "label": prop.label,
        "type": prop.type.value,
        "fieldType": prop.field_type,
        "groupName": prop.group,
        "custom": not prop.hubspot_defined,
        "dataSensitivity": prop.sensitivity,
        "hasUniqueValue": prop.unique,
        "options": len(prop.options),
        "rules": ", ".join(t for t, _ in prop.rules),
    }


def list_properties(records: RecordStore, *, custom_only: bool = False) -> list[Property]:
    props = list(records.properties())
    return [p for p in props if not (custom_only and p.hubspot_defined)]


def field_type_label(prop: Property) -> str:
    if prop.field_type == "date" and prop.type is PropType.DATETIME:
        return "Date and time picker"
    return FIELD_TYPE_LABELS.get(prop.field_type, prop.field_type)
