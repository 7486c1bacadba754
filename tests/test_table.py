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
    st.lists(st.tuples(st.integers(1, 80), st.integers(1, 80)), min_size=1, max_size=12),
    st.integers(20, 300),
)
def test_allocation_properties(pairs: list[tuple[int, int]], total: int) -> None:
    natural = [max(a, b) for a, b in pairs]
    minimum = [min(a, b) for a, b in pairs]
    widths = allocate(natural, minimum, total)
    shown = [w for w in widths if w]
    assert widths[0] > 0
    assert widths == shown + [0] * (len(widths) - len(shown))
    if len(shown) > 1:
        assert sum(shown) + GAP * (len(shown) - 1) <= total
    for w, low, high in zip(shown, minimum, natural, strict=False):
        assert low <= w <= high
