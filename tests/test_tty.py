"""Prompts on a real pseudo-terminal (no mocked questionary): stdin and stderr are the
terminal, stdout is a pipe, as in `subctl cancel 2 > out.json`."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

from tests.conftest import Invoke


def answer_prompt(args: list[str], expect: bytes, keys: bytes) -> tuple[int, str, bytes]:
    """Run subctl with a terminal on stdin/stderr, wait for ``expect``, type ``keys``."""
    return converse(args, [(expect, keys)])


def converse(args: list[str], steps: list[tuple[bytes, bytes]]) -> tuple[int, str, bytes]:
    """Run subctl with a terminal on stdin/stderr; for each step, wait until the screen shows
    ``expect`` (after what the previous steps saw), then type ``keys``."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "subctl", *args],
        stdin=follower, stdout=subprocess.PIPE, stderr=follower,
        env={**os.environ, "TERM": "xterm"},
    )  # fmt: skip
    os.close(follower)
    seen = b""
    try:
        for expect, keys in steps:
            start = len(seen)
            deadline = time.monotonic() + 30
            while expect not in seen[start:] and time.monotonic() < deadline:
                ready, _, _ = select.select([leader], [], [], 0.2)
                if ready:
                    try:
                        seen += os.read(leader, 4096)
                    except OSError:
                        break
            assert expect in seen[start:], seen.decode(errors="replace")
            os.write(leader, keys)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        os.close(leader)
    return proc.returncode, stdout.decode(), seen


def status(invoke: Invoke, sub_id: int) -> str:
    return str(json.loads(invoke(f"view {sub_id} --format json").stdout)["properties"]["hs_status"])


def test_cancel_confirmed_on_a_terminal(seeded: Invoke) -> None:
    code, stdout, screen = answer_prompt(
        ["cancel", "2"], b"I understand the customer will not be charged again", b"y"
    )
    assert code == 0, screen.decode(errors="replace")
    assert json.loads(stdout)[0]["new_status"] == "canceled"
    assert status(seeded, 2) == "canceled"


def test_cancel_declined_on_a_terminal_changes_nothing(seeded: Invoke) -> None:
    code, stdout, _ = answer_prompt(["cancel", "3"], b"will not be charged again", b"n")
    assert code == 130
    assert status(seeded, 3) == "unpaid"


def test_ctrl_c_at_a_prompt_aborts_and_changes_nothing(seeded: Invoke) -> None:
    """Ctrl-C is never "no" (which may go on to another question): exit 130, stdout clean."""
    code, stdout, _ = answer_prompt(["cancel", "3"], b"will not be charged again", b"\x03")
    assert (code, stdout) == (130, "")  # questionary's own "Cancelled by user" went to stdout
    assert status(seeded, 3) == "unpaid"


def test_views_delete_confirmed_on_a_terminal(seeded: Invoke) -> None:
    assert seeded("filter --where 'status = paused' --save-view gone").exit_code == 0
    code, _, _ = answer_prompt(["views", "delete", "gone"], b'Delete view "gone"?', b"y")
    assert code == 0
    assert seeded("views show gone").exit_code == 3
