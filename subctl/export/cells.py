"""Cells straight from storage: an export reads rows as the store keeps them (``codec``'s
storage form: epoch milliseconds, doubles, integer booleans, text) and converts each cell once,
to the text of a CSV cell or the value of a JSON member, with converters chosen per column
before the first row. Values that repeat (dates, amounts, options) are converted once and
remembered; the row function is generated for the column list, so a row costs one call.

The results are exactly ``codec.to_text`` / ``codec.to_json`` of the typed values that
``RecordStore.search`` reads (``tests/test_cli_export.py`` compares both paths), with labels in
place of option values when asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from subctl.codec import (
    DAY_MS,
    EPOCH,
    PropType,
    from_storage,
    money_from_storage,
    ms_to_datetime,
    to_json,
    to_text,
)
from subctl.export import Column
from subctl.schema import MASK, Property

MEMO_MAX = 100_000  # remembered conversions per column, at most (cleared when full)

Convert = Callable[[Any], Any]


class _Memo(dict[Any, Any]):
    """``memo[raw]``: the conversion of ``raw``, computed on the first miss (a C lookup after)."""

    __slots__ = ("convert",)

    def __init__(self, convert: Convert) -> None:
        super().__init__()
        self.convert = convert

    def __missing__(self, raw: Any) -> Any:
        if len(self) >= MEMO_MAX:
            self.clear()
        value = self[raw] = self.convert(raw)
        return value


@dataclass(frozen=True)
class Source:
    """Where a column's cells come from: a property's stored value (``prop``), read as labels
    (``labels``) or masked (``masked``); or, with ``prop`` None, a text value made by the
    export itself (association cells), written as it is."""

    prop: Property | None
    labels: bool = False
    masked: bool = False
    currency_at: int | None = None  # money: where the row's currency code is in a stored row


def _typed(prop: Property, labels: bool) -> Convert:
    """Stored -> typed (``from_storage``), option values as labels when ``labels``."""
    if prop.type is PropType.ENUMERATION:
        if not labels or not prop.options:
            return lambda raw: None if raw is None else str(raw)
        by_value = {o.value: o.label for o in prop.options}

        def label(raw: Any) -> Any:
            if raw is None:
                return None
            text = str(raw)
            if prop.multi_value:
                return ";".join(by_value.get(part, part) for part in text.split(";"))
            return by_value.get(text, text)

        return label
    return lambda raw: from_storage(prop.type, raw, money=prop.money)


def _money_expr(
    source: Source, at: str, env: dict[str, Any], name: str, convert: Callable[[Any], Any]
) -> str | None:
    """A money cell with its row's currency's decimals (``codec.money_from_storage``), as
    ``convert`` makes it of the Decimal; None when the column is not money with a currency."""
    prop = source.prop
    if prop is None or not prop.money or source.masked or source.currency_at is None:
        return None

    def cell(key: tuple[Any, Any]) -> Any:
        raw, currency = key
        if raw is None:
            return convert(None)
        return convert(money_from_storage(raw, currency if isinstance(currency, str) else None))

    env[name] = _Memo(cell)
    return f"{name}[({at}, row[{source.currency_at}])]"


def _json_money(value: Decimal | None) -> Any:
    """JSON numbers (``codec.to_json``): an amount of a currency without decimals (JPY) an
    integer."""
    return None if value is None else to_json(value)


_DAYS = _Memo(lambda days: (EPOCH.date() + dt.timedelta(days=days)).isoformat())
_CLOCK = _Memo(lambda seconds: f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}")


def datetime_text(raw: Any) -> str:
    """Epoch milliseconds -> ``iso_datetime`` of the instant (``2026-04-16T06:09:05.266Z``),
    without building a datetime: the texts of days and of seconds of the day are remembered."""
    if raw is None:
        return ""
    days, rest = divmod(int(raw), DAY_MS)
    seconds, milli = divmod(rest, 1000)
    return f"{_DAYS[days]}T{_CLOCK[seconds]}.{milli:03d}Z"


def _datetime_expr(at: str, env: dict[str, Any], name: str, none: str) -> str:
    """``datetime_text`` inlined (a stored datetime is an integer): no call per cell."""
    env["_DAYS"], env["_CLOCK"], env["_text"] = _DAYS, _CLOCK, datetime_text
    v = f"{name}v"
    return (
        f"({none} if ({v} := {at}) is None else "
        f'(f"{{_DAYS[{v} // {DAY_MS}]}}T{{_CLOCK[{v} // 1000 % 86400]}}.{{{v} % 1000:03d}}Z"'
        f" if type({v}) is int else _text({v})))"
    )


def _mask_text(raw: Any) -> str:
    return "" if raw is None else MASK


def _mask_json(raw: Any) -> Any:
    return None if raw is None else MASK


def _text_expr(source: Source, at: str, env: dict[str, Any], name: str) -> str:
    """The expression of a cell's text, ``at`` naming the stored value."""
    prop = source.prop
    if prop is None or (prop.type is PropType.STRING and not source.masked):
        return f'({at} or "")'
    money = _money_expr(source, at, env, name, to_text)
    if money is not None:
        return money
    if source.masked:
        env[name] = _mask_text
    elif prop.name == "hs_object_id":
        env[name] = lambda raw: "" if raw is None else str(int(raw))
    elif prop.type is PropType.DATETIME:
        return _datetime_expr(at, env, name, '""')
    else:
        typed = _typed(prop, source.labels)
        env[name] = _Memo(lambda raw: to_text(typed(raw)))
        return f"{name}[{at}]"
    return f"{name}({at})"


def _json_expr(source: Source, at: str, env: dict[str, Any], name: str) -> str:
    prop = source.prop
    if prop is None or (prop.type is PropType.STRING and not source.masked):
        return at
    if prop.type is PropType.ENUMERATION and not source.labels and not source.masked:
        return at
    money = _money_expr(source, at, env, name, _json_money)
    if money is not None:
        return money
    if source.masked:
        env[name] = _mask_json
    elif prop.name == "hs_object_id":
        return at
    elif prop.type is PropType.DATETIME:
        return _datetime_expr(at, env, name, "None")
    else:
        typed = _typed(prop, source.labels)

        def json_value(raw: Any) -> Any:
            value = typed(raw)
            return value if value is None or isinstance(value, str | int) else to_json(value)

        env[name] = _Memo(json_value)
        return f"{name}[{at}]"
    return f"{name}({at})"


def _typed_expr(source: Source, at: str, env: dict[str, Any], name: str) -> str:
    prop = source.prop
    if prop is None or (prop.type is PropType.STRING and not source.masked):
        return at
    money = _money_expr(source, at, env, name, lambda value: value)
    if money is not None:
        return money
    if source.masked:
        env[name] = _mask_json
    elif prop.type is PropType.DATETIME:
        env[name] = lambda raw: None if raw is None else ms_to_datetime(raw)
    elif prop.name == "hs_object_id":
        return at
    else:
        env[name] = _Memo(_typed(prop, source.labels))
        return f"{name}[{at}]"
    return f"{name}({at})"


def row_function(
    sources: Sequence[Source],
    positions: Sequence[int],
    expr: Callable[[Source, str, dict[str, Any], str], str],
) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """``stored row -> converted cells``: cell ``i`` from ``row[positions[i]]`` by ``expr``,
    as one generated function (no call per cell for text, none at all for values that pass)."""
    env: dict[str, Any] = {}
    parts = [
        expr(source, f"row[{at}]", env, f"c{i}")
        for i, (source, at) in enumerate(zip(sources, positions, strict=True))
    ]
    code = f"def convert(row):\n    return ({', '.join(parts)},)\n"
    exec(compile(code, "<subctl.export.cells>", "exec"), env)  # noqa: S102 (built here, above)
    convert: Callable[[Sequence[Any]], tuple[Any, ...]] = env["convert"]
    return convert


class StoredRows:
    """An export's rows, chunk by chunk, as stored values: ``positions[i]`` is where column
    ``i``'s value sits in a stored row, ``sources[i]`` how to read it. Iterating gives typed
    rows (mappings, for writers that type their cells), with ``extra`` keys (e.g. the currency
    code of money columns) besides the columns'; the text writers convert the stored rows
    themselves (``text_rows``, ``json_rows``). ``advance(n)`` is called after each chunk."""

    def __init__(
        self,
        columns: Sequence[Column],
        sources: Sequence[Source],
        positions: Sequence[int],
        chunks: Iterable[Sequence[Sequence[Any]]],
        *,
        extra: Sequence[tuple[str, Source, int]] = (),
    ) -> None:
        self.columns = list(columns)
        self.sources = list(sources)
        self.positions = list(positions)
        self.extra = list(extra)
        self._chunks = chunks
        self.advance: Callable[[int], None] = lambda n: None
        self.neutral = [
            s.prop is None or (s.prop.type in (PropType.STRING, PropType.ENUMERATION))
            for s in self.sources
        ]

    def chunks(self) -> Iterator[Sequence[Sequence[Any]]]:
        for chunk in self._chunks:
            yield chunk
            self.advance(len(chunk))

    def text_rows(self) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
        return row_function(self.sources, self.positions, _text_expr)

    def json_rows(self) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
        return row_function(self.sources, self.positions, _json_expr)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        keys = [c.key for c in self.columns] + [key for key, _, _ in self.extra]
        sources = self.sources + [s for _, s, _ in self.extra]
        positions = self.positions + [at for _, _, at in self.extra]
        convert = row_function(sources, positions, _typed_expr)
        for chunk in self.chunks():
            for row in chunk:
                yield dict(zip(keys, convert(row), strict=True))
