"""Ctrl-C in the middle of a batch: what was done is reported, then exit 130 with the way on."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import NOW


def test_ctrl_c_mid_batch_reports_what_was_done(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "SUBCTL_HOME": str(home), "SUBCTL_NOW": NOW, "SUBCTL_BATCH_CHUNK": "100"}
    made = subprocess.run(
        [sys.executable, "-m", "subctl", "demo", "--count", "8000", "--seed", "3"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "subctl", "cancel", "--where", "status = active", "--yes",
         "--format", "ndjson"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and proc.poll() is None and done < 300:
        try:
            with sqlite3.connect(home / "workspace.db") as conn:
                (done,) = conn.execute(
                    "SELECT count(*) FROM job_items WHERE outcome IS NOT NULL"
                ).fetchone()
        except sqlite3.OperationalError:
            done = 0
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    printed = [json.loads(line) for line in stdout.splitlines()]
    with sqlite3.connect(home / "workspace.db") as conn:
        (journaled,) = conn.execute(
            "SELECT count(*) FROM job_items WHERE outcome IS NOT NULL"
        ).fetchone()
    assert 0 < len(printed) == journaled
    assert {row["outcome"] for row in printed} == {"ok"}
    assert "Error: interrupted: job 1 stopped after" in stderr
    assert "subctl jobs resume 1" in stderr and "Traceback" not in stderr
