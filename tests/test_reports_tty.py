"""Issue #16: the report's table and chart in a real terminal (tmux) at 80 and 160 columns, with
and without ``NO_COLOR``, on demo data after ``clock advance 90d``. Skipped without tmux."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

SUBCTL = str(Path(sys.executable).parent / "subctl")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    home = tmp_path_factory.mktemp("tty")
    db = str(home / "ws.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUBCTL_")}
    env["SUBCTL_HOME"] = str(home)
    for args in (
        ["demo", "--count", "300", "--seed", "1", "--yes"],
        ["clock", "advance", "90d", "--format", "json"],
    ):
        subprocess.run([SUBCTL, "-w", db, *args], env=env, check=True, capture_output=True)
    return db


@pytest.fixture
def tmux() -> Iterator[str]:
    name = f"subctl-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)


def screen(session: str, width: int, command: str, *, color: bool) -> str:
    """Run ``command`` in a fresh tmux terminal ``width`` columns wide; the screen, with its
    escape sequences (``capture-pane -e``). The terminal runs on its own tmux server (``-L``),
    which inherits this process's environment: ``NO_COLOR`` is set or unset explicitly."""
    env = "unset NO_COLOR; " if color else "export NO_COLOR=1; "
    subprocess.run(
        ["tmux", "-L", session, "new-session", "-d", "-s", session, "-x", str(width), "-y", "300",
         "bash --norc --noprofile"],
        check=True,
    )  # fmt: skip
    done = f"{session}-done"
    subprocess.run(
        ["tmux", "-L", session, "set-option", "-t", session, "history-limit", "5000"], check=True
    )
    subprocess.run(
        ["tmux", "-L", session, "send-keys", "-t", session,
         f"clear; unset SUBCTL_NOW; {env}export TERM=xterm-256color; {command}; "
         f"tmux -L {session} wait-for -S {done}",
         "Enter"],
        check=True,
    )  # fmt: skip
    subprocess.run(["tmux", "-L", session, "wait-for", done], check=True, timeout=120)
    out = subprocess.run(
        ["tmux", "-L", session, "capture-pane", "-p", "-e", "-t", session, "-S", "-300"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return out


def plain(text: str) -> list[str]:
    import re

    return [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in text.splitlines()]


@pytest.mark.parametrize("width", [80, 160])
def test_mrr_table_and_chart_fit_the_terminal(demo_db: str, tmux: str, width: int) -> None:
    out = screen(tmux, width, f"{SUBCTL} -w {demo_db} report mrr --from -100d", color=False)
    lines = plain(out)
    assert any(line.startswith("MRR and its movements") for line in lines), out
    assert all(len(line) <= width for line in lines)
    bars = [line for line in lines if "█" in line]
    assert bars, out
    # The widest bar fills the terminal's width, less the label and the amount.
    assert max(len(line.rstrip()) for line in bars) > width - 4
    assert "\x1b[36m" not in out  # NO_COLOR: no colour (cyan bars)
    # The movements: the table keeps them at both widths.
    header = next(line for line in lines if line.startswith("Period"))
    for word in ("New", "Churn", "MRR"):
        assert word in header


def test_colour_without_no_color_and_the_other_reports(demo_db: str, tmux: str) -> None:
    out = screen(
        tmux, 80,
        f"{SUBCTL} -w {demo_db} report churn --currency USD; "
        f"{SUBCTL} -w {demo_db} report at-risk --where 'mrr > 1000'; "
        f"{SUBCTL} -w {demo_db} report renewals --within 14d --currency USD",
        color=True,
    )  # fmt: skip
    lines = plain(out)
    assert all(len(line) <= 80 for line in lines)
    assert "\x1b[36m" in out  # bars in colour
    for title in ("Churn", "Revenue at risk", "Totals per currency", "Renewals"):
        assert any(line.startswith(title) for line in lines), (title, out)
