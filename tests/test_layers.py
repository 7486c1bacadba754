"""The layering rules of ARCHITECTURE.md, read from the source: imports only run downwards, and
services and queries know no concrete backend."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "subctl"


def imports(path: Path, source: str | None = None) -> Iterator[tuple[int, str]]:
    """Every module a file imports (at any depth, under ``TYPE_CHECKING`` too), with its line;
    ``from a import b`` gives ``a`` and ``a.b`` (``b`` may be a module)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    text = path.read_text() if source is None else source
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the file's package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def violations(layer: str, banned: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for line, module in imports(path):
            if any(module == b or module.startswith(b + ".") for b in banned):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module}")
    return sorted(set(found))


@pytest.mark.parametrize(
    ("layer", "banned"),
    [
        # Services hold the rules once for every backend: they take the protocols of
        # store/base.py, never a concrete store or its toolkit.
        ("services", ("subctl.store.sql", "sqlalchemy")),
        # The query package (AST, parser, values) knows no backend and no output format.
        ("query", ("subctl.store.sql", "sqlalchemy", "subctl.export")),
        # Stores format nothing for display and hold no rules.
        ("store", ("subctl.export", "subctl.services")),
    ],
)
def test_imports_run_downwards(layer: str, banned: tuple[str, ...]) -> None:
    assert violations(layer, banned) == []


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "import sqlalchemy as sa\n"
        "from subctl.store import sql\n"
        "from subctl.store.sql.records import SqlRecordStore\n"
        "def f():\n"
        "    from ..store.sql import open_local\n"
    )
    path = PACKAGE / "services" / "example.py"  # not written: only its package matters
    found = {module for _, module in imports(path, source)}
    assert {"sqlalchemy", "subctl.store.sql", "subctl.store.sql.records",
            "subctl.store.sql.open_local"} <= found  # fmt: skip
