"""Every example a user is shown works, verbatim, on ``subctl demo`` data, on any date.

Two sources, each run with the clock pinned (``SUBCTL_NOW``) and with the real clock:

- the README's quickstart: its set-up line and every ``$ subctl …`` line of its console blocks, in
  order, in one workspace and one working directory, as a reader types them;
- every command's ``Example: subctl …`` line from its help, each on a fresh demo workspace
  (an example that needs an earlier step names it in ``SETUP``).

Shell syntax is honoured as far as the examples use it: ``a && b`` runs both, ``> FILE`` writes
stdout to FILE, ``| tool`` keeps subctl's part (its stdout is what the tool would read),
``# comment`` and line continuations are dropped. An example that asks for confirmation runs off
a terminal, so it must refuse with exit 2 and "confirmation required"; it is then run again with
``--yes``, which must succeed.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, Invoke, completions_generator

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")
EXAMPLE = re.compile(r"^\s*Example:\s+(subctl\b.*(?:\n[ \t]*\S.*)*)", re.MULTILINE)

# Examples that need an earlier step on a fresh demo workspace: the steps, run first.
SETUP: dict[str, list[str]] = {
    "views show reengage": [
        "subctl filter --where 'status in (canceled, expired) and canceled_at > -60d' "
        "--save-view reengage"
    ],
    "views delete reengage": [
        "subctl filter --where 'status in (canceled, expired) and canceled_at > -60d' "
        "--save-view reengage"
    ],
    "config get active": ["subctl config set active default"],
    "profile remove scratch --yes": ["subctl profile add scratch --local scratch.db"],
    "import exports/subs-2026-11-30.csv": [
        "subctl export --all --properties all+associations -o exports/subs-2026-11-30.csv"
    ],
    **{
        key: [
            "subctl segment create reengage --where 'status in (canceled, expired) and "
            "canceled_at > -60d'"
        ]
        for key in (
            "segment show reengage --as-list",
            "segment members reengage --format ids",
            "segment refresh reengage",
            "segment delete reengage --yes",
            "segment edit reengage --where status = canceled and canceled_at > -90d",
        )
    },
    "segment remove vip 42": ["subctl segment create vip --manual 42"],
    "segment diff payment-due --format json": [
        "subctl segment create payment-due --where 'next_payment_due_date between today and +7d'"
    ],
    "jobs results 1": ["subctl cancel --where 'status = unpaid' --yes"],
    "jobs resume 1": ["subctl cancel --where 'status = unpaid' --yes"],
    "jobs abandon 1": ["subctl cancel --where 'status = unpaid' --yes"],
    **{
        f"property {verb} subscription_tier": [
            "subctl property create --name subscription_tier --label 'Subscription tier' "
            "--type enumeration --option Basic --option Professional --option Enterprise"
        ]
        for verb in ("view", "edit", "delete")
    },
}
# Examples whose documented outcome is not exit 0 on demo data, with why.
EXPECTED: dict[str, tuple[int, str]] = {
    # A finished job has nothing to resume: the example shows the command, the outcome is a
    # one-line refusal (an interrupted job cannot be made through the CLI in a test).
    "jobs resume 1": (5, "nothing left to resume"),
    "jobs abandon 1": (5, "only an unfinished job is abandoned"),
    # Grants are a team workspace's (PostgreSQL); the demo is a personal one, which says so.
    "access grant ci_bot view export": (2, "for a team workspace"),
    "access revoke ci_bot export": (2, "for a team workspace"),
    "access list --format csv": (2, "for a team workspace"),
}
# README lines that need a terminal (the interactive builder): off one they must say so, exit 2.
NEEDS_TERMINAL = "# on a terminal:"


@dataclass(frozen=True)
class Step:
    argv: list[str]  # after "subctl"
    stdout_to: str | None  # "> FILE"
    source: str  # the example as written

    @property
    def key(self) -> str:
        return " ".join(self.argv)


def _shell_words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&>;")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def parse(line: str) -> list[Step]:
    """The subctl invocations of one shell line."""
    steps: list[Step] = []
    words = _shell_words(line)
    commands: list[list[str]] = [[]]
    for word in words:
        if word in ("&&", ";"):
            commands.append([])
        else:
            commands[-1].append(word)
    for command in commands:
        if not command or command[0] != "subctl":
            continue  # pip install …, or what a pipe feeds
        if "|" in command:
            command = command[: command.index("|")]
        target = None
        if ">" in command:
            at = command.index(">")
            target = command[at + 1]
            command = command[:at] + command[at + 2 :]
        steps.append(Step(command[1:], target, line.strip()))
    return steps


def readme_lines() -> list[str]:
    """The set-up line (the first ```bash block's first line) and every console ``$`` line."""
    lines: list[str] = []
    fence: str | None = None
    pending = ""
    for raw in README.read_text(encoding="utf-8").splitlines():
        match = FENCE.match(raw)
        if match:
            fence = None if fence is not None else match.group(1)
            continue
        if fence == "console":
            text = raw.rstrip()
            if pending:
                pending += " " + text.strip()
            elif text.startswith("$ "):
                pending = text[2:]
            else:
                continue
            if pending.endswith("\\"):
                pending = pending[:-1].rstrip()
                continue
            lines.append(pending)
            pending = ""
        elif fence == "bash" and not lines and "subctl" in raw:
            lines.append(raw.strip())
    return lines


def help_examples() -> Iterator[str]:
    seen: set[str] = set()
    for node in completions_generator().command_tree():
        for match in EXAMPLE.finditer(node.command.help or ""):
            example = " ".join(match.group(1).split())
            if example not in seen:
                seen.add(example)
                yield example


def run_step(invoke: Invoke, step: Step, cwd: Path, needs_terminal: bool = False) -> None:
    result = invoke(step.argv)
    if needs_terminal:
        assert result.exit_code == 2 and "terminal" in result.stderr, (step.source, result)
        return
    expected = next((v for k, v in EXPECTED.items() if step.key.startswith(k)), None)
    if result.exit_code == 2 and "confirmation required" in result.stderr:
        result = invoke([*step.argv, "--yes"])
    if expected is not None:
        code, text = expected
        assert (result.exit_code, text in result.stderr) == (code, True), (step.source, result)
        return
    assert result.exit_code == 0, (step.source, result.stderr)
    assert "No subscriptions found" not in result.stderr, f"{step.source}: matches nothing"
    if step.stdout_to:
        (cwd / step.stdout_to).write_text(result.stdout, encoding="utf-8")


@pytest.fixture(params=["pinned", "system"])
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "system":
        monkeypatch.delenv("SUBCTL_NOW")
    return str(request.param)


def test_readme_quickstart_runs_in_order(
    invoke: Invoke, clock: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = readme_lines()
    assert lines[0].startswith("pip install -e . && subctl demo")
    assert len(lines) >= 20, lines
    for line in lines:
        for step in parse(line):
            run_step(invoke, step, tmp_path, needs_terminal=NEEDS_TERMINAL in line)


@pytest.fixture(scope="module")
def demo_homes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One demo workspace per clock, copied for each help example."""
    import os
    import subprocess
    import sys

    from tests.conftest import NOW

    homes = {}
    for clock in ("pinned", "system"):
        home = tmp_path_factory.mktemp(f"demo-{clock}")
        env = {**os.environ, "SUBCTL_HOME": str(home)}
        env.pop("SUBCTL_NOW", None)
        env.pop("SUBCTL_WORKSPACE", None)
        if clock == "pinned":
            env["SUBCTL_NOW"] = NOW
        subprocess.run([sys.executable, "-m", "subctl", "demo"], env=env, check=True,
                       capture_output=True)  # fmt: skip
        homes[clock] = home
    return homes


@pytest.mark.parametrize("example", list(help_examples()))
def test_help_example_runs_on_demo_data(
    example: str,
    invoke: Invoke,
    clock: str,
    demo_homes: dict[str, Path],
    subctl_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copytree(demo_homes[clock], subctl_home, dirs_exist_ok=True)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    (step,) = parse(example)
    for setup in next((v for k, v in SETUP.items() if step.key.startswith(k)), []):
        for pre in parse(setup):
            run_step(invoke, pre, work)
    run_step(invoke, step, work)


def test_parse_understands_the_shell_the_examples_use() -> None:
    (a, b) = parse("pip install -e . && subctl demo && subctl list --status unpaid")
    assert (a.argv, b.argv) == (["demo"], ["list", "--status", "unpaid"])
    (c,) = parse("subctl list --due-within 7d --format csv > due.csv  # export")
    assert (c.argv, c.stdout_to) == (["list", "--due-within", "7d", "--format", "csv"], "due.csv")
    (d,) = parse("subctl list --contact 17 --all --format ndjson | jq .hs_name")
    assert d.argv == ["list", "--contact", "17", "--all", "--format", "ndjson"]
    (e,) = parse("subctl filter --where 'a = \"b c\" and d > -60d' --save-view x")
    assert e.argv == ["filter", "--where", 'a = "b c" and d > -60d', "--save-view", "x"]
