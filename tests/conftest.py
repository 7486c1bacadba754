"""Every test gets a fresh ``SUBCTL_HOME``, no colour, a fixed width and a pinned clock."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from subctl.cli import run

NOW = "2026-11-26T12:00:00+00:00"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def subctl_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "subctl-home"
    monkeypatch.setenv("SUBCTL_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("SUBCTL_NOW", NOW)
    for name in ("SUBCTL_WORKSPACE", "SUBCTL_PROFILE", "SUBCTL_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    yield home


@pytest.fixture
def invoke() -> Invoke:
    """Run ``subctl`` end to end through ``cli.run`` (which maps errors to exit codes) inside
    Typer's CliRunner isolation, with separate stdout and stderr."""

    def _invoke(args: str | Sequence[str], input: str | None = None) -> Result:
        argv = shlex.split(args) if isinstance(args, str) else list(args)
        runner = CliRunner()
        with runner.isolation(input=input) as (out, err, _):
            code = run(argv)
        return Result(code, out.getvalue().decode(), err.getvalue().decode())

    return _invoke


@pytest.fixture
def demo(invoke: Invoke) -> Invoke:
    """A workspace with 300 deterministic demo subscriptions."""
    result = invoke("demo --count 300 --seed 1")
    assert result.exit_code == 0, result.stderr
    return invoke
