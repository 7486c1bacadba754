"""An export killed mid-way (SIGKILL: no cleanup runs) leaves no file under the final name;
its temporary file, hidden next to it, is removed by the next export to that name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Invoke

# The export of the demo workspace, stopped after its first chunk has been handed to the
# writer (a chunk per 100 rows here), until it is killed.
SLOW_EXPORT = """
import sys, time
from subctl.export import cells

chunks = cells.StoredRows.chunks

def slow(self):
    for n, chunk in enumerate(chunks(self)):
        yield chunk
        if n == 1:
            sys.stderr.write("writing\\n")
            sys.stderr.flush()
            time.sleep(120)

cells.StoredRows.chunks = slow
import subctl.store.sql.records as records
records.STREAM_CHUNK = 100
from subctl.cli import main
main(["export", "--all", "--properties", "all", "-o", sys.argv[1]])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_export_leaves_no_file_under_its_name(demo: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / "subs.csv"
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_EXPORT, str(target)],
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert child.stderr is not None
        assert child.stderr.readline() == "writing\n"
        (temp,) = out.iterdir()  # the export is under way: only its temporary file
        assert temp.name.startswith(f".subs.csv.{child.pid}.")
        assert temp.name.endswith(".subctl-tmp")
        assert temp.stat().st_mode & 0o777 == 0o600
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stderr is not None:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert not target.exists()
    assert [p.name for p in out.iterdir()] == [temp.name]  # left behind, hidden

    done = demo(["export", "--all", "-o", str(target)])
    assert done.exit_code == 0, done.stderr
    assert [p.name for p in out.iterdir()] == ["subs.csv"]  # the stale one removed
    assert target.read_text().count("\n") == 301


def test_a_live_exports_temporary_file_is_kept(demo: Invoke, tmp_path: Path) -> None:
    """Another export to the same name that is still running keeps its temporary file."""
    live = tmp_path / f".subs.csv.{os.getppid()}.abcd.subctl-tmp"
    live.write_text("partial")
    result = demo(["export", "--all", "-o", str(tmp_path / "subs.csv")])
    assert result.exit_code == 0, result.stderr
    assert live.exists()


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_a_reader_that_stops_early_gets_no_traceback(demo: Invoke, fmt: str) -> None:
    """``subctl export -o - | head``: the pipe closes under the stream (more than the pipe's
    buffer is written); nothing is said about the stream's cleanup."""
    command = (
        f"{sys.executable} -m subctl export --all --properties all+associations --format {fmt}"
        " -o - | head -c 100 > /dev/null"
    )
    done = subprocess.run(
        command, shell=True, capture_output=True, text=True, env=os.environ.copy(), check=False
    )
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
