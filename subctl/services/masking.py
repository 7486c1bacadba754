"""Masking of highly sensitive property values in every output (tables, JSON, CSV, exports),
unless ``--show-sensitive`` is given with the permission (``services.properties``). Light on
purpose: ``list`` imports it on its hot path."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from subctl.schema import HIGHLY_SENSITIVE, MASK, Property, masked_names

__all__ = ["HIGHLY_SENSITIVE", "MASK", "Masker", "masked_names", "masker"]


@dataclass
class Masker:
    """Replaces the values of highly sensitive properties with ``MASK`` (unless shown)."""

    names: frozenset[str] = field(default_factory=frozenset)

    def row(self, values: dict[str, Any]) -> dict[str, Any]:
        if not self.names or not any(k in self.names for k in values):
            return values
        return {k: (MASK if k in self.names and v is not None else v) for k, v in values.items()}

    def value(self, name: str, value: Any) -> Any:
        return MASK if name in self.names and value is not None else value


def masker(props: Iterable[Property], *, show: bool) -> Masker:
    return Masker(frozenset() if show else masked_names(props))
