"""Page text in Chinese (the default) and English.

Every string a page shows comes from the catalogue: one entry per key with its
zh-CN and English text. A key missing from the catalogue is an error, so a page
rendered in tests in both languages proves both texts exist.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection

from market.web.text import (
    common,
    desk_dispatch,
    desk_followups,
    desk_home,
    desk_ledger,
    desk_orders,
    desk_projects,
    desk_registry,
    desk_setup,
    desk_units,
    domain,
    doorplates,
    errors,
    notifications,
    open311,
    party,
    people,
    phone_profile,
    phone_resident,
    phone_volunteer,
    photos,
    records,
    recruit,
)

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "lang"
# The value of <html lang="…"> for each language.
HTML_LANG = {"zh": "zh-CN", "en": "en"}

# A message not yet translated: a catalogue key and the values it takes.
Message = tuple[str, dict[str, Any]]


def _merge(*modules: Any) -> dict[str, tuple[str, str]]:
    catalogue: dict[str, tuple[str, str]] = {}
    for module in modules:
        for key, texts in module.TEXT.items():
            if key in catalogue:
                raise RuntimeError(f"page text {key!r} is defined twice ({module.__name__})")
            catalogue[key] = texts
    return catalogue


CATALOGUE = _merge(
    common,
    domain,
    errors,
    phone_resident,
    phone_volunteer,
    desk_dispatch,
    desk_projects,
    desk_ledger,
    desk_units,
    desk_orders,
    desk_home,
    desk_followups,
    phone_profile,
    desk_setup,
    people,
    desk_registry,
    notifications,
    photos,
    open311,
    recruit,
    records,
    party,
    doorplates,
)


def translate(lang: str, key: str | Message, /, **values: Any) -> str:
    """The text of `key` in `lang`, with `{name}` placeholders filled from `values`."""
    if isinstance(key, tuple):
        key, given = key
        values = {**given, **values}
    zh, en = CATALOGUE[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text


def has_text(key: str) -> bool:
    return key in CATALOGUE


def lang_of(connection: ASGIConnection) -> str:
    lang = connection.cookies.get(LANG_COOKIE, DEFAULT_LANG)
    return lang if lang in LANGS else DEFAULT_LANG
