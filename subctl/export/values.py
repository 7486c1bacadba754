"""Rendering of typed values: JSON values, and text for CSV cells and table cells (the
conversions are ``subctl.codec``'s; this module adds terminal and spreadsheet safety)."""

from __future__ import annotations

import re
from typing import Any

from subctl.codec import iso_datetime, to_text
from subctl.codec import to_json as json_default

__all__ = ["iso_datetime", "json_default", "neutralise", "text_value", "unneutralise", "visible"]

# What a spreadsheet may read as the start of a formula: = + - @, their full-width forms
# (which some spreadsheets fold to ASCII), and a leading tab or CR.
# What a spreadsheet may read as the start of a formula: ASCII, full-width and small-form
# variants (which some spreadsheets fold to ASCII), and the whitespace some skip before one.
FORMULA_PREFIXES = (
    "=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\ufe66", "\ufe62", "\ufe63",
    "\ufe6b", "\t", "\r", "\n",
)  # fmt: skip
# Control characters (C0, DEL, C1) and the bidirectional overrides that reorder what a terminal
# shows: never written raw to a terminal.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def text_value(value: Any) -> str:
    """The text of a typed value in CSV and table cells (``codec.to_text``)."""
    return to_text(value)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, newlines: bool = False) -> str:
    """Text for a terminal: control characters shown as escapes (ESC as ``\\x1b``), so that a
    stored value can never move the cursor, retitle the window or write the clipboard.
    ``newlines`` keeps line breaks (multi-line messages and detail values)."""
    pattern = _CONTROL_BUT_NEWLINE if newlines else _CONTROL
    return pattern.sub(_escape, text)


def neutralise(value: Any) -> str:
    """A spreadsheet-safe cell: text starting a formula (``FORMULA_PREFIXES``) gets a ' first."""
    text = text_value(value)
    if isinstance(value, str | list | tuple) and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def unneutralise(text: str) -> str:
    """A cell as it was before ``neutralise`` made it spreadsheet-safe (``'=1+2``): what
    ``subctl import`` reads."""
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text
