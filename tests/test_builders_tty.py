"""The interactive builders on a real pseudo-terminal: a wrong answer is refused on the spot
and asked again, keeping every answer given before it."""

from __future__ import annotations

import json

from tests.conftest import Invoke
from tests.test_tty import converse

ERASE = b"\x7f" * 12  # backspaces: clear the refused answer


def test_filter_builder_asks_again_for_a_bad_field_and_value(seeded: Invoke) -> None:
    code, stdout, screen = converse(
        ["filter"],
        [
            (b"Field:", b"staus\r"),
            (b'unknown field "staus"', ERASE + b"mrr\r"),
            (b"Operator:", b"\r"),  # "is"
            (b"Value:", b"lots\r"),
            (b'"lots" is not a number', ERASE + b"100\r"),
            (b"Add another condition?", b"\r"),  # no
            (b"Save as a view?", b"y"),
            (b"View name:", b"Bad Name\r"),
            (b"bad view name", ERASE + b"hundred\r"),
        ],
    )
    assert code == 0, screen.decode(errors="replace")
    assert [row["hs_object_id"] for row in json.loads(stdout)] == [2, 3]
    view = json.loads(seeded("views show hundred --format json").stdout)
    assert view["query"] == "mrr = 100"


def test_saving_from_the_builder_needs_edit(seeded: Invoke) -> None:
    """Saving the built query as a view is an edit, as --save-view is (exit 4, nothing saved)."""
    assert seeded("config set profiles.nightly.permissions view,export").exit_code == 0
    code, _stdout, screen = converse(
        ["-p", "nightly", "filter"],
        [
            (b"Field:", b"mrr\r"),
            (b"Operator:", b"\r"),
            (b"Value:", b"100\r"),
            (b"Add another condition?", b"\r"),
            (b"Save as a view?", b"y"),
            (b"View name:", b"hundred\r"),
        ],
    )
    assert code == 4, screen.decode(errors="replace")
    assert seeded("views show hundred").exit_code == 3


def test_property_create_asks_again_for_a_bad_name_and_options(seeded: Invoke) -> None:
    code, stdout, screen = converse(
        ["property", "create", "--type", "enumeration"],
        [
            (b"Internal name", b"Bad Name\r"),
            (b"invalid property name", ERASE + b"tier\r"),
            (b"Label:", b"\r"),  # the default: Tier
            (b"Options", b"=gold\r"),
            (b"has no label", ERASE + b"Gold, Silver\r"),
        ],
    )
    assert code == 0, screen.decode(errors="replace")
    created = json.loads(stdout)
    assert (created["name"], created["label"]) == ("tier", "Tier")
    assert [o["value"] for o in created["options"]] == ["gold", "silver"]
