"""Generates the gazetteer of the developer view's person-name and
street-address detectors (server/redact/data/gazetteer.txt.gz) from Faker's
locale data: the first, middle and last names and the honorifics of every
Faker locale, the street types of its address providers, and, as words that
are names too but must not be taken for one alone, the word lists of its
lorem providers.

    python3 -m venv /tmp/redact-tools
    /tmp/redact-tools/bin/pip install --require-hashes --no-deps -r server/redact/tools/requirements.txt
    /tmp/redact-tools/bin/python server/redact/tools/gazetteer.py server/redact/data/gazetteer.txt.gz

The output is gzip-compressed UTF-8 text (gzip header without a timestamp,
so the file is the same on every run): one section per "# name" line, one
entry per line, sorted.
"""

from __future__ import annotations

import gzip
import importlib
import pkgutil
import re
import sys
import unicodedata

import faker
import faker.providers.address
import faker.providers.lorem
import faker.providers.person


def modules(package: object) -> list[object]:
    out = []
    for m in pkgutil.iter_modules(package.__path__):  # type: ignore[attr-defined]
        try:
            out.append(importlib.import_module(f"{package.__name__}.{m.name}"))  # type: ignore[attr-defined]
        except ImportError:
            pass
    return out


def strings(provider: object, *names: str) -> set[str]:
    out: set[str] = set()
    for n in names:
        v = getattr(provider, n, None)
        if v is None:
            continue
        if isinstance(v, dict):
            v = list(v.keys())
        if isinstance(v, str):
            v = [v]
        try:
            for x in v:
                if isinstance(x, str):
                    out.add(unicodedata.normalize("NFC", x.strip()))
        except TypeError:
            pass
    return out


def clean_names(names: set[str]) -> set[str]:
    """Single words only (a compound name's parts are listed apart), of
    letters, apostrophes and hyphens, at least two characters (one for CJK)."""
    out: set[str] = set()
    for n in names:
        for part in re.split(r"[\s]+", n):
            part = part.strip(".,")
            if not part or "{" in part or any(c.isdigit() for c in part):
                continue
            if not all(c.isalpha() or c in "'’-" for c in part):
                continue
            cjk = any(unicodedata.name(c, "").startswith(("CJK", "HANGUL", "HIRAGANA", "KATAKANA")) for c in part)
            if len(part) < 2 and not cjk:
                continue
            out.add(part)
    return out


def main() -> None:
    first: set[str] = set()
    last: set[str] = set()
    middle: set[str] = set()
    honorifics: set[str] = set()
    for m in modules(faker.providers.person):
        p = m.Provider  # type: ignore[attr-defined]
        first |= strings(p, "first_names", "first_names_male", "first_names_female", "first_names_nonbinary",
                         "first_romanized_names", "first_romanized_names_male", "first_romanized_names_female")
        last |= strings(p, "last_names", "last_names_male", "last_names_female", "last_romanized_names")
        middle |= strings(p, "middle_names", "middle_names_male", "middle_names_female")
        honorifics |= strings(p, "prefixes", "prefixes_male", "prefixes_female", "prefixes_nonbinary", "suffixes", "suffixes_male", "suffixes_female")

    words: set[str] = set()
    endings: set[str] = set()
    for m in modules(faker.providers.address):
        p = m.Provider  # type: ignore[attr-defined]
        formats = " ".join(strings(p, "street_name_formats"))
        for attr in ("street_suffixes", "street_suffixes_long", "street_suffixes_short", "street_prefixes",
                     "street_prefixes_long", "street_prefixes_short", "street_types", "street_suffixes_fem",
                     "street_suffixes_masc", "street_suffixes_neu"):
            values = strings(p, attr)
            if not values:
                continue
            # A type written apart ("{{street_suffix}} ", " {{street_suffix}}")
            # is a word; one glued after a name ("{{last_name}}{{street_suffix}}")
            # is an ending; one glued before another part is a stem of a
            # name, not a type, and is left out.
            tag = attr.replace("suffixes", "suffix").replace("prefixes", "prefix").replace("types", "type")
            kinds = set()
            for m in re.finditer(r"(\}\})?\{\{" + tag + r"\}\}(\{\{)?", formats):
                kinds.add("ending" if m.group(1) else "stem" if m.group(2) else "word")
            if not kinds:
                continue
            for v in values:
                v = v.strip()
                if not v or "{" in v or len(v) > 24 or any(c.isdigit() for c in v):
                    continue
                if "ending" in kinds and len(v) >= 3:
                    endings.add(v.lower().lstrip("-"))
                if "word" in kinds and len(v.split()) <= 2:
                    words.add(v)
    common: set[str] = set()
    for m in modules(faker.providers.lorem):
        p = m.Provider  # type: ignore[attr-defined]
        common |= {w.lower() for w in strings(p, "word_list") if len(w) >= 2}

    sections = {
        "first": clean_names(first),
        "last": clean_names(last),
        "middle": clean_names(middle),
        "honorific": {h for h in honorifics if h and len(h) <= 12},
        "street_word": words,
        "street_ending": endings,
        "common": common,
    }
    out = [f"# generated by server/redact/tools/gazetteer.py from Faker {faker.VERSION}"]
    for name, entries in sections.items():
        out.append(f"# {name}")
        out.extend(sorted(entries))
    data = ("\n".join(out) + "\n").encode()
    with open(sys.argv[1], "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=9, filename="") as z:
            z.write(data)
    counts = ", ".join(f"{n} {len(e)}" for n, e in sections.items())
    print(f"wrote {sys.argv[1]}: {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
