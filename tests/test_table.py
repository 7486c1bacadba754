"""Width allocation of terminal tables."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from subctl.export.table import GAP, allocate, minimum_width


def test_fits_unchanged() -> None:
    assert allocate([4, 10, 6], [4, 8, 6], 40) == [4, 10, 6]


def test_long_text_is_truncated_first() -> None:
    assert allocate([4, 60, 6], [4, 8, 6], 40) == [4, 40 - 4 - 6 - 2 * GAP, 6]


def test_rightmost_columns_are_left_out_when_short_ones_do_not_fit() -> None:
    assert allocate([10, 10, 10], [10, 10, 10], 22) == [10, 0, 0]
    assert allocate([10, 10, 10], [10, 10, 10], 23) == [10, 10, 0]


def test_minimum_width_keeps_short_cells_and_header_words() -> None:
    assert minimum_width(10, "Next payment due date") == 10
    assert minimum_width(2, "Record ID") == 6
    assert minimum_width(60, "Name") == 8


@given(
    st.lists(
        st.tuples(st.integers(1, 80), st.integers(1, 80), st.booleans()), min_size=1, max_size=12
    ),
    st.integers(20, 300),
)
def test_allocation_properties(specs: list[tuple[int, int, bool]], total: int) -> None:
    natural = [max(a, b) for a, b, _ in specs]
    minimum = [min(a, b) for a, b, _ in specs]
    required = [i for i, (_, _, r) in enumerate(specs) if r]
    widths = allocate(natural, minimum, total, required)
    shown = [i for i, w in enumerate(widths) if w]
    assert 0 in shown
    assert set(required) <= set(shown)
    if not required:  # only the rightmost columns are left out
        assert shown == list(range(len(shown)))
    used = sum(widths) + GAP * (len(shown) - 1)
    squeezed = sum(minimum[i] for i in shown) + GAP * (len(shown) - 1) > total
    if squeezed:  # what must be shown does not fit at its minimum: it wraps, within the width
        assert used <= total or all(widths[i] == 1 for i in shown)
    else:
        assert used <= total or widths == natural
        for i in shown:
            assert minimum[i] <= widths[i] <= natural[i]


def test_required_columns_are_never_left_out() -> None:
    assert allocate([10, 10, 10], [10, 10, 10], 22, required=[2]) == [9, 0, 10]
    assert allocate([30, 30], [30, 30], 40, required=[1]) == [18, 19]


def test_a_wrap_column_wraps_only_when_it_is_the_last_one_shown() -> None:
    """A note (``wrap``, here 20 wide at most, its longest word 10) gets its whole width before
    a column after it is shown; it wraps (down to its longest word) only as the last one."""
    natural, minimum = [10, 20, 7], [10, 10, 7]
    assert allocate(natural, minimum, 50, wrap=[1]) == [10, 20, 7]  # 43: everything fits
    assert allocate(natural, minimum, 42, wrap=[1]) == [10, 20, 0]  # the note whole, not 7
    assert allocate(natural, minimum, 30, wrap=[1]) == [10, 17, 0]  # the note wraps
    assert allocate(natural, minimum, 42) == [10, 19, 7]  # without wrap: the note is cut
    assert minimum_width(20, "Note", word=10) == 10


def test_tables_stream_with_the_widths_of_the_first_rows() -> None:
    import io
    from collections.abc import Iterator

    from rich.console import Console

    from subctl.export import Column
    from subctl.export.table import CHUNK, render_table

    produced = 0
    first_write_at: list[int] = []

    class Screen(io.StringIO):
        def write(self, text: str) -> int:
            if not first_write_at:
                first_write_at.append(produced)
            return super().write(text)

    def rows() -> Iterator[dict[str, object]]:
        nonlocal produced
        for i in range(3 * CHUNK + 5):
            produced += 1
            yield {"id": i, "name": f"subscription {i}"}

    screen = Screen()
    console = Console(file=screen, width=80, no_color=True)
    count = render_table(rows(), [Column("id", "ID"), Column("name", "Name")], console)
    assert count == 3 * CHUNK + 5
    assert first_write_at == [CHUNK]  # printed after the first chunk, not after every row
    lines = screen.getvalue().splitlines()
    assert lines[2 + CHUNK - 1] == "999   subscription 999"
    # later chunks keep the columns; a longer value wraps rather than being cut
    assert lines[2 + CHUNK : 2 + CHUNK + 2] == ["100   subscription    ", "  0   1000            "]
    assert lines[-2:] == ["300   subscription    ", "  4   3004            "]


def test_counts_in_messages_are_singular_for_one() -> None:
    from subctl.codec import plural

    assert [plural(n, "row") for n in (0, 1, 2, 1000)] == [
        "0 rows",
        "1 row",
        "2 rows",
        "1,000 rows",
    ]


def test_one_column_left_out_is_said_in_the_singular() -> None:
    import io

    from rich.console import Console

    from subctl.export import Column
    from subctl.export.table import render_table

    notes: list[str] = []
    columns = [Column("a", "A"), Column("b", "B"), Column("c", "C")]
    console = Console(file=io.StringIO(), width=23, no_color=True)
    render_table(
        [{"a": "x" * 10, "b": "y" * 10, "c": "z" * 10}], columns, console, note=notes.append
    )
    assert notes == ["(1 column left out to fit: c)"]
    console = Console(file=io.StringIO(), width=12, no_color=True)
    render_table(
        [{"a": "x" * 10, "b": "y" * 10, "c": "z" * 10}], columns, console, note=notes.append
    )
    assert notes[1:] == ["(2 columns left out to fit: b, c)"]
