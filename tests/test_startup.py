"""The startup budget: ``--help`` and ``--version`` import no database, HTTP, spreadsheet or
prompt library (checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("sqlmodel", "sqlalchemy", "httpx", "openpyxl", "questionary", "xlsxwriter",
         "rustpy_xlsxwriter", "xlwt", "python_calamine")  # fmt: skip

PROBE = """
import sys
from subctl.cli import run
code = run({argv!r})
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
"""


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["list", "--help"]])
def test_no_heavy_imports(argv: list[str]) -> None:
    probe = PROBE.format(argv=argv, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "HEAVY=\n" in proc.stderr, proc.stderr


def test_version(invoke) -> None:  # type: ignore[no-untyped-def]
    from subctl import __version__

    result = invoke("--version")
    assert (result.exit_code, result.stdout) == (0, f"subctl {__version__}\n")


def test_python_dash_m(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [sys.executable, "-m", "subctl", "--version"], capture_output=True, text=True, check=True
    )
    assert proc.stdout.startswith("subctl ")


def test_executable_version_fast_path_matches_the_app(invoke) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [sys.executable, "-m", "subctl", "--version"], capture_output=True, text=True, check=True
    )
    assert proc.stdout == invoke("--version").stdout
    probe = (
        "import sys; sys.argv = ['subctl', '--version']; from subctl.__main__ import main; "
        "main(); print(sorted(m for m in sys.modules if m.startswith('typer')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "[]"


def test_prompt_and_spreadsheet_libraries_are_ordinary_dependencies() -> None:
    """``pip install -e .`` alone gives working prompts (the README's first command)."""
    from importlib.metadata import requires

    plain = {
        r.split(";")[0].split(">")[0].split("[")[0].strip()
        for r in requires("subctl") or []
        if "extra ==" not in r
    }
    assert {"questionary", "xlsxwriter"} <= plain


READ_HEAVY = (*HEAVY, "pydantic")


@pytest.mark.backends("sqlite", "postgresql")
@pytest.mark.parametrize(
    "argv",
    [
        ["list", "--format", "json"],
        ["list", "--status", "unpaid", "--limit", "2", "--format", "json"],
        ["filter", "--where", "status = active and name ~ acme*", "--format", "json"],
        ["view", "1", "--format", "json"],
    ],
)
def test_reading_verbs_import_no_database_toolkit(seeded, subctl_home, argv) -> None:  # type: ignore[no-untyped-def]
    """A short read on an initialised workspace runs on the DB-API: no SQLAlchemy, pydantic,
    HTTP, spreadsheet or prompt library."""
    import os

    probe = PROBE.format(argv=argv, heavy=READ_HEAVY)
    env = {**os.environ, "SUBCTL_HOME": str(subctl_home)}
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    assert "HEAVY=\n" in proc.stderr, proc.stderr
    assert "Error" not in proc.stderr, proc.stderr
