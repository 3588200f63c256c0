"""Every text of the status page and of the messages is translated in every shipped language.

The message ids are extracted from the sources each domain's mapping names
(``wismo/locales/<domain>.cfg``), as ``make messages`` does, so a text added to the code without
a translation fails here, naming it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from wismo.i18n import DOMAINS, LOCALES_DIR, SHIPPED, SOURCE_LOCALE, translations

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = [lang for lang in SHIPPED if lang != SOURCE_LOCALE]


def _extracted(domain: str) -> set[str]:
    with (LOCALES_DIR / f"{domain}.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    ids: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        ids.update([message] if isinstance(message, str) else [m for m in message if m])
    return {message for message in ids if message}


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_domain_has_texts(domain: str) -> None:
    assert len(_extracted(domain)) >= 20, f"{domain}: its mapping finds (almost) no texts"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("domain", DOMAINS)
def test_every_text_is_translated(domain: str, lang: str) -> None:
    path = LOCALES_DIR / lang / "LC_MESSAGES" / f"{domain}.po"
    assert path.exists(), f"no catalog {path.relative_to(ROOT)}: run make messages"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    translated = {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in catalog
        if message.id
        and message.string
        and not message.fuzzy
        and all(message.string if isinstance(message.string, tuple) else [message.string])
    }
    missing = sorted(_extracted(domain) - translated)
    assert not missing, f"{domain}/{lang}: {len(missing)} untranslated, e.g. {missing[:5]}"
    problems = [(message.id, errors) for message, errors in catalog.check() if errors]
    assert not problems, f"{domain}/{lang}: placeholders differ: {problems[:3]}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogs_compile_and_translate(lang: str) -> None:
    for domain in DOMAINS:
        compiled = translations(domain, lang)
        with (LOCALES_DIR / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        sample = next(m for m in catalog if m.id and isinstance(m.id, str) and m.string)
        assert compiled.gettext(sample.id) == sample.string
