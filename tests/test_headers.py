"""Header languages (``subctl/export/headers.py`` and its data files): every language names
every standard property and association object, no header is ambiguous (within a language or
across languages), import resolves every header of every language, and the files ship."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from subctl import schema
from subctl.errors import UsageError
from subctl.export import headers
from subctl.export.headers import HeaderRef

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE_DIR = ROOT / "subctl" / "export" / "languages"
STANDARD = [p.name for p in schema.STANDARD_PROPERTIES]
OBJECTS = [a.name for a in schema.ASSOCIATION_OBJECTS]
ALL = headers.LANGUAGES


def _raw(code: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((LANGUAGE_DIR / f"{code}.json").read_text("utf-8"))
    return data


def test_the_languages_are_hubspots_export_languages() -> None:
    assert {"en", "da", "de", "es", "fi", "fr", "it", "ja", "nl", "pl", "pt", "sv"} <= set(ALL)
    assert ALL[0] == headers.DEFAULT_LANGUAGE == "en"
    files = sorted(p.stem for p in LANGUAGE_DIR.glob("*.json"))
    assert files == sorted(ALL), "one data file per language in LANGUAGES, and no other"


@pytest.mark.parametrize("code", ALL)
def test_every_standard_property_and_association_object_has_a_header(code: str) -> None:
    data = _raw(code)
    assert data["language"] == code
    properties = data["properties"]
    assert isinstance(properties, dict)
    missing = [name for name in STANDARD if name not in properties]
    assert not missing, f"{code}.json has no header for the standard properties {missing}"
    stale = [name for name in properties if name not in STANDARD]
    assert not stale, f"{code}.json names properties schema.py does not have: {stale}"
    associations = data["associations"]
    assert isinstance(associations, dict)
    missing = [obj for obj in OBJECTS if obj not in associations]
    assert not missing, f"{code}.json has no headers for the association objects {missing}"
    stale = [obj for obj in associations if obj not in OBJECTS]
    assert not stale, f"{code}.json names association objects schema.py does not have: {stale}"
    for obj, entry in associations.items():
        assert sorted(entry) == ["association", "association_ids", "object"], (code, obj)


@pytest.mark.parametrize("code", ALL)
def test_headers_are_clean_text(code: str) -> None:
    h = headers.headers(code)
    every = [h.record_id, h.name, *h.properties.values(), *h.templates.values()]
    every += [text for entry in h.associations.values() for text in entry.values()]
    for text in every:
        assert text and text == text.strip() and text.isprintable(), (code, text)
        assert "  " not in text and ";" not in text, (code, text)
    assert h.property("hs_object_id", "?") == h.record_id  # one column
    with pytest.raises(TypeError):  # shared by every caller in the process: read-only
        h.properties["hs_name"] = "x"  # type: ignore[index]
    for which in ("association", "association_ids"):
        assert h.templates[which].count("{object}") == 1, (code, which)


@pytest.mark.parametrize("code", ALL)
def test_no_two_columns_share_a_header_within_a_language(code: str) -> None:
    h = headers.headers(code)
    texts = [h.record_id, *(v for k, v in h.properties.items() if k != headers.RECORD_ID)]
    texts += [h.association(obj) for obj in OBJECTS] + [h.association_ids(obj) for obj in OBJECTS]
    seen: dict[str, str] = {}
    shared = []
    for text in texts:
        folded = headers.key(text)
        if folded in seen:
            shared.append((seen[folded], text))
        seen[folded] = text
    assert not shared, f"{code}: headers shared by two columns (import cannot tell them): {shared}"


def test_no_header_means_two_columns_across_languages() -> None:
    clashes = {k: sorted(v) for k, v in headers.ambiguous().items()}
    assert clashes == {}, f"headers naming different columns in different languages: {clashes}"


def test_english_headers_are_the_schema_labels() -> None:
    """English output does not change: the headers are today's labels."""
    en = headers.headers("en")
    assert en.record_id == "Record ID"
    assert {p.name: en.property(p.name, "?") for p in schema.STANDARD_PROPERTIES} == {
        p.name: p.label for p in schema.STANDARD_PROPERTIES
    }
    for obj in schema.ASSOCIATION_OBJECTS:
        assert en.object(obj.name) == obj.label
        assert en.association(obj.name) == f"Associated {obj.label}"
        assert en.association_ids(obj.name) == f"Associated {obj.label} IDs"
    assert en.association("contact") == "Associated Contact"
    assert en.association_ids("line_item") == "Associated Line item IDs"


def test_translated_headers() -> None:
    da = headers.headers("da")  # the Danish article's own words
    assert da.record_id == "Record ID"
    assert da.association("contact") == "Tilknyttet kontakt"
    assert da.association_ids("contact") == "Tilknyttede kontakt-id'er"
    assert da.property("hs_canceled_at", "?") == "Afmeldingsdato"
    assert da.property("hs_recurring_billing_start_date", "?") == "Startdato"
    assert da.property("hs_recipient_billing_address", "?") == "Faktureringsadresse"
    de = headers.headers("DE")  # codes are case-insensitive
    assert de.language == "de"
    assert de.association_ids("company") == "Zugeordnete Unternehmens-IDs"
    assert headers.headers("ja").association_ids("contact") == "関連付けられたコンタクトID"


def test_custom_properties_keep_their_label_and_unknown_objects_use_the_template() -> None:
    da = headers.headers("da")
    assert da.property("tier", "Subscription tier") == "Subscription tier"
    assert da.association("pets") == "Tilknyttet pets"
    assert da.association_ids("pets") == "Tilknyttede pets-id'er"


@pytest.mark.parametrize("code", ALL)
def test_resolve_finds_every_header_of_every_language(code: str) -> None:
    h = headers.headers(code)
    expected = {h.record_id: HeaderRef("record_id", "hs_object_id")}
    expected |= {
        text: HeaderRef("property", name)
        for name, text in h.properties.items()
        if name != "hs_object_id"
    }
    for obj in OBJECTS:
        expected[h.association(obj)] = HeaderRef("association", obj)
        expected[h.association_ids(obj)] = HeaderRef("association_ids", obj)
    assert len(expected) == len(STANDARD) + 2 * len(OBJECTS)
    assert {text: headers.resolve(text) for text in expected} == expected
    # as a spreadsheet may hand them back: other case, blanks around, a BOM on the first
    assert {text: headers.resolve(f"  {text.upper()}\t") for text in expected} == expected
    assert headers.resolve("\ufeff" + h.record_id) == expected[h.record_id]


def test_resolve_round_trip_and_what_it_leaves_to_the_importer() -> None:
    for code in ALL:
        h = headers.headers(code)
        assert headers.resolve(h.property("hs_status", "?")) == ("property", "hs_status")
        assert headers.resolve(h.association_ids("payment")) == ("association_ids", "payment")
    assert headers.resolve("tilknyttede KONTAKT-ID'ER") == ("association_ids", "contact")
    assert headers.resolve("Status") == ("property", "hs_status")
    assert headers.resolve("Record ID") == ("record_id", "hs_object_id")
    # internal names, custom labels and unknown columns are the importer's to resolve
    for other in ("hs_status", "next_billing_date", "Subscription tier", "", "Associated"):
        assert headers.resolve(other) is None, other


@pytest.mark.parametrize("bad", ["xx", "english", "", "en-US"])
def test_an_unknown_language_is_a_usage_error_naming_the_supported_ones(bad: str) -> None:
    with pytest.raises(UsageError) as caught:
        headers.headers(bad)
    assert caught.value.exit_code == 2
    assert str(caught.value) == (
        f'unknown header language "{bad}"; supported: en, da, de, es, fi, fr, it, ja, nl, no, '
        "pl, pt, sv"
    )


def test_loading_is_lazy_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A language's file is read when it is asked for, once; --help reads none."""
    probe = (
        "import sys; from subctl.cli import run; run(['--help']); "
        "print('subctl.export.headers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "False"
    probe = (
        "import json; from subctl.export import headers as h; reads = []; load = json.loads\n"
        "json.loads = lambda text: reads.append(1) or load(text)\n"
        "h.headers('da'); h.headers('da'); h.headers('DA'); print(len(reads))\n"
        "h.resolve('Navn'); h.resolve('Nimi'); print(len(reads))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", str(len(ALL))]


# -- the default language: --language, else the config, else English --------------------------


def test_default_language_comes_from_the_config(subctl_home: Path) -> None:
    assert headers.default_language() == "en"
    assert headers.default().language == "en"
    subctl_home.mkdir(exist_ok=True)
    (subctl_home / "config.toml").write_text('language = "fi"\n')
    assert headers.default().language == "fi"
    assert headers.default("sv").language == "sv"  # --language wins
    with pytest.raises(UsageError):
        headers.default("xx")


# -- the data files ship in the package ----------------------------------------------------------


def test_the_data_files_ship_in_the_built_package(tmp_path: Path) -> None:
    """What setuptools copies into a wheel (build_py, from pyproject.toml's package-data)."""
    pytest.importorskip("setuptools")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "subctl", tmp_path / "subctl", ignore=shutil.ignore_patterns("__py*"))
    out = tmp_path / "out"
    subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
         "--build-lib", str(out)],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    shipped = sorted(p.name for p in (out / "subctl" / "export" / "languages").glob("*.json"))
    assert shipped == sorted(f"{code}.json" for code in ALL)
    assert (out / "subctl" / "export" / "headers.py").exists()
