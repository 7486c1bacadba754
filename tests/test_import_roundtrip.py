"""Issue #17, "Done when": ``export --properties all+associations`` -> ``import`` into a new
workspace -> export again gives identical files: CSV in every header mode and language, byte
for byte; XLSX cell by cell (values, types and number formats)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Invoke

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.mark.parametrize(
    "options",
    [(), ("--internal-names",), ("--language", "da"), ("--language", "ja", "--raw")],
    ids=["labels", "internal-names", "da", "ja-raw"],
)
def test_export_import_into_a_new_workspace_export_again_is_identical(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: tuple[str, ...]
) -> None:
    assert invoke("demo --count 150 --seed 4").exit_code == 0
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    exported = invoke(["export", "--all", "--properties", "all+associations", *options,
                       "-o", str(first)])  # fmt: skip
    assert exported.exit_code == 0, exported.stderr
    fresh = tmp_path / "fresh.db"
    monkeypatch.delenv("SUBCTL_WORKSPACE", raising=False)
    target = ["--workspace", str(fresh)]
    assert invoke([*target, "init"]).exit_code == 0
    imported = invoke([*target, "import", str(first), "-f", "json"])
    assert imported.exit_code == 0, imported.stderr
    assert imported.stderr.splitlines()[-1] == "✔ 150 rows: 150 created"
    again = invoke([*target, "export", "--all", "--properties", "all+associations", *options,
                    "-o", str(second)])  # fmt: skip
    assert again.exit_code == 0, again.stderr
    assert second.read_bytes() == first.read_bytes()
    assert os.stat(second).st_size > 10_000


@pytest.mark.parametrize("options", [(), ("--internal-names",)], ids=["labels", "internal-names"])
def test_an_xlsx_export_imported_into_a_new_workspace_exports_again_identically(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: tuple[str, ...]
) -> None:
    from openpyxl import load_workbook

    assert invoke("demo --count 150 --seed 4").exit_code == 0
    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    exported = invoke(["export", "--all", "--properties", "all+associations", *options,
                       "-o", str(first)])  # fmt: skip
    assert exported.exit_code == 0, exported.stderr
    monkeypatch.delenv("SUBCTL_WORKSPACE", raising=False)
    target = ["--workspace", str(tmp_path / "fresh.db")]
    assert invoke([*target, "init"]).exit_code == 0
    imported = invoke([*target, "import", str(first), "-f", "json"])
    assert imported.exit_code == 0, imported.stderr
    again = invoke([*target, "export", "--all", "--properties", "all+associations", *options,
                    "-o", str(second)])  # fmt: skip
    assert again.exit_code == 0, again.stderr

    def cells(path: Path) -> list[list[tuple[object, str]]]:
        sheet = load_workbook(path).worksheets[0]
        return [[(c.value, c.number_format) for c in row] for row in sheet.iter_rows()]

    assert cells(second) == cells(first)
