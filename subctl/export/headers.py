"""Header languages: the column headers of exports, and their resolution on import.

An export's headers are in one language (``--language``, else the config's ``language`` key,
else English): the headers of the **standard properties**, of **Record ID** and of the
**association columns** (``Associated Contact``, ``Associated Contact IDs``) are translated.
As in HubSpot, **values are never translated** (an enumeration cell holds its label as
``schema.py`` spells it, in every language) and **custom properties keep their label** (what a
person named them). English headers are the labels of ``schema.py``, so English output is what
subctl has always written.

One data file per language, in the package: ``subctl/export/languages/<code>.json``::

    {"language": "da", "name": "Dansk",
     "record_id": "Record ID",
     "properties": {"hs_name": "Navn", ...},            # every standard property
     "associations": {"contact": {"object": "Kontakt",  # every association object
                                  "association": "Tilknyttet kontakt",
                                  "association_ids": "Tilknyttede kontakt-id'er"}, ...},
     "templates": {"association": "Tilknyttet {object}",
                   "association_ids": "Tilknyttede {object}-id'er"}}

Each association header is written out whole, so that it reads naturally (German and Polish
adjectives agree with the object's gender); the templates name an association object the file
does not list (its name is used as given). A file is read only when its language is asked
for, once per process; :func:`resolve` reads them all, once.

Sources: the Danish article (``../shared/seed``) for da (``Record ID``, ``Startdato``,
``Afmeldingsdato``, ``Faktureringsadresse``, ``Betalingsmetode``, ``Tilknyttet [objekt]``,
``Tilknyttede [objekt]-id'er``, the objects' names); HubSpot's own names of its objects and of
Record ID where known (``ID de fiche d'informations``, ``Datensatz-ID``, ``レコードID``); the
other headers are subctl's translations of its English labels.

Within a language no two columns share a header (compared case-insensitively), and across
languages a header means one column only: an import finds the column of any language's header
with :func:`resolve` (``tests/test_headers.py`` checks both over every file). Internal names
(``hs_status``) are the importer's to resolve, not this module's.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from subctl.errors import UsageError

# HubSpot's export languages (DOMAIN.md §5: the guide's list and Danish), English first, then in
# alphabetical order; with Norwegian (``no``), which the export API's language enum has and the
# invoice language (hs_language) offers.
LANGUAGES: tuple[str, ...] = (
    "en", "da", "de", "es", "fi", "fr", "it", "ja", "nl", "no", "pl", "pt", "sv",
)  # fmt: skip
DEFAULT_LANGUAGE = "en"
RECORD_ID = "hs_object_id"  # the property behind the Record ID column

HeaderKind = Literal["record_id", "property", "association", "association_ids"]


class HeaderRef(NamedTuple):
    """What a header names: ``("record_id", "hs_object_id")``, ``("property", "hs_status")``,
    ``("association", "contact")`` or ``("association_ids", "contact")``."""

    kind: HeaderKind
    name: str


def unknown_language(language: str) -> UsageError:
    return UsageError(
        f'unknown header language "{language}"; supported: {", ".join(LANGUAGES)}',
    )


@dataclass(frozen=True)
class Headers:
    """The headers of one language (read-only: one instance per language and process)."""

    language: str
    name: str  # the language's own name: "Dansk"
    record_id: str
    properties: Mapping[str, str]  # standard property -> header
    associations: Mapping[str, Mapping[str, str]]  # object -> object, association, association_ids
    templates: Mapping[str, str]  # association, association_ids: with {object}

    def property(self, name: str, default: str) -> str:
        """A standard property's header; any other property (a custom one) keeps ``default``,
        its label."""
        return self.properties.get(name, default)

    def object(self, obj: str) -> str:
        """An association object's singular name: ``Kontakt``."""
        entry = self.associations.get(obj)
        return entry["object"] if entry else obj

    def association(self, obj: str) -> str:
        """The header of the column of associated records' names: ``Associated Contact``."""
        return self._association(obj, "association")

    def association_ids(self, obj: str) -> str:
        """The header of the column of associated records' ids: ``Associated Contact IDs``."""
        return self._association(obj, "association_ids")

    def _association(self, obj: str, which: str) -> str:
        entry = self.associations.get(obj)
        if entry is not None:
            return entry[which]
        return self.templates[which].replace("{object}", obj)

    def columns(self) -> dict[str, HeaderRef]:
        """Every header of this language and the column it names."""
        found: dict[str, HeaderRef] = {self.record_id: HeaderRef("record_id", RECORD_ID)}
        for name, header in self.properties.items():
            if name != RECORD_ID:  # its header is record_id's (one column)
                found[header] = HeaderRef("property", name)
        for obj, entry in self.associations.items():
            found[entry["association"]] = HeaderRef("association", obj)
            found[entry["association_ids"]] = HeaderRef("association_ids", obj)
        return found


def headers(language: str) -> Headers:
    """The headers of a language (a code of ``LANGUAGES``, case-insensitive); another one is a
    usage error naming the supported ones."""
    code = language.strip().lower()
    if code not in LANGUAGES:
        raise unknown_language(language)
    return _load(code)


def default_language() -> str:
    """The config's ``language`` key, else English."""
    from subctl.config import read_config

    return read_config().language or DEFAULT_LANGUAGE


def default(language: str | None = None) -> Headers:
    """The headers an export uses: ``language`` (``--language``) when given, else the config's
    ``language``, else English."""
    return headers(language if language is not None else default_language())


def key(header: str) -> str:
    """A header as an import compares it: NFC, surrounding blanks (and a BOM) dropped,
    case-folded."""
    text = unicodedata.normalize("NFC", header).strip().lstrip("\ufeff").strip()
    return text.casefold()


def resolve(header: str) -> HeaderRef | None:
    """The column a header of any language names (case-insensitive, surrounding blanks
    ignored); None when no language has it (a custom property's label, an internal name or an
    unknown column: the importer's to resolve)."""
    return _index()[0].get(key(header))


def ambiguous() -> dict[str, set[HeaderRef]]:
    """The headers that name different columns in different languages (none: a test checks)."""
    return _index()[1]


@cache
def _index() -> tuple[dict[str, HeaderRef], dict[str, set[HeaderRef]]]:
    found: dict[str, HeaderRef] = {}
    clashes: dict[str, set[HeaderRef]] = {}
    for code in LANGUAGES:
        for header, ref in _load(code).columns().items():
            folded = key(header)
            seen = found.setdefault(folded, ref)
            if seen != ref:
                clashes.setdefault(folded, {seen}).add(ref)
    for folded in clashes:  # never guess: such a header resolves to nothing
        del found[folded]
    return found, clashes


@cache
def _load(code: str) -> Headers:
    import json
    from importlib.resources import files

    resource = files("subctl.export").joinpath("languages", f"{code}.json")
    data: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return Headers(
        language=code,
        name=data["name"],
        record_id=data["record_id"],
        properties=MappingProxyType(dict(data["properties"])),
        associations=MappingProxyType(
            {obj: MappingProxyType(dict(entry)) for obj, entry in data["associations"].items()}
        ),
        templates=MappingProxyType(dict(data["templates"])),
    )
