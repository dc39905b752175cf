"""Writes tests/data/ftfy/vectors.json: python-ftfy 6.1.1's own output for a few thousand strings
(mojibake made with the codecs ftfy handles, HTML entities, terminal escapes, line breaks, random
Unicode), so that test_ftfy checks the C++ port against the reference beyond ftfy's examples.
A maintenance tool: neither the build nor the tests run it.
Usage: PYTHONPATH=<ftfy-6.1.1 source> python3 gen_ftfy_vectors.py > vectors.json
"""
import json
import random
import re
import sys
import unicodedata

import ftfy
from ftfy import badness, chardata

assert ftfy.__version__ == "6.1.1", ftfy.__version__
assert unicodedata.unidata_version == "14.0.0"
rng = random.Random(20240611)

words = ["café", "naïve", "résumé", "über", "Straße", "São Paulo", "jalapeño", "“quoted”", "it’s", "—", "…", "€5", "½",
         "😀", "👍🏽", "猫", "日本語", "Привет", "Γειά", "שלום", "مرحبا", "नमस्ते", "สวัสดี", "à la mode", "àquele", "Ã", "fácil",
         "✔", "™", "©", "°C", "µs", "×", "±", "•", "¡Hola!", "¿qué?", "ñ", "Ł", "ő", "ž", "č", "ğ", "İ", "ş", "hello", "world",
         "a", "the", "photo", "cat", " ", "  ", "\n", "\t", "&amp;", "&lt;", "&eacute;", "&#x2019;", "&#8217;", "&EACUTE;",
         "&nbsp;", "<b>", "\x1b[31m", "\u00a0", "\u200b", "\ufeff", "\x85", "\x92", "\x9d", "\r\n", "ﬁ", "ＡＢＣ", "ｶﾀｶﾅ",
         "\u3000", "Œuvre", "\u2028", "\x00", "\x7f"]
encodings = ["latin-1", "sloppy-windows-1252", "sloppy-windows-1251", "sloppy-windows-1250", "sloppy-windows-1253",
             "sloppy-windows-1254", "iso-8859-2", "macroman", "cp437", "windows-1252", "cp850"]


def mojibake(s):
    t = s.encode("utf-8").decode(rng.choice(encodings), errors="replace")
    r = rng.random()
    if r < 0.15:
        t = t.replace("\xa0", " ")
    elif r < 0.25:
        t = t.replace("\ufffd", "?")
    elif r < 0.3 and len(t) > 2:
        k = rng.randrange(len(t))
        t = t[:k] + "\ufffd" + t[k + 1:]
    return t


def random_char():
    r = rng.random()
    if r < 0.3:
        return chr(rng.randint(0x20, 0x7E))
    if r < 0.6:
        return chr(rng.randint(0x80, 0x24F))
    if r < 0.8:
        return chr(rng.randint(0x250, 0x3000))
    c = rng.randint(0x3000, 0x10FFFF)
    while 0xD800 <= c <= 0xDFFF:
        c = rng.randint(0x3000, 0x10FFFF)
    return chr(c)


texts = []
for _ in range(1500):
    s = " ".join(rng.choice(words) for _ in range(rng.randint(1, 6)))
    r = rng.random()
    if r < 0.5:
        s = " ".join(mojibake(p) if rng.random() < 0.6 else p for p in s.split(" "))
    elif r < 0.7:
        s = mojibake(mojibake(s)) if rng.random() < 0.3 else mojibake(s)
    texts.append(s)
special = [b"\xed\xa0\xbd\xed\xb8\x8d", b"\xc0\x80", b"\xed\xa0\x80", b"\xc3 ", b"\xc3 quele", b"\xc3 s ", b"\xc2 ", b"\xe2\x80 ",
           b"\xe2 \x9c", b"\xf0\x9f\x98 ", b"\xf0 \x9f\x98", b"\x1a", b"\xc3?", b"\xe2\x80?", b"\xe2?\x9c", b"\xf0\x9f?\x80",
           b"\xed\xa0?\xed\xb0\x80", b"\xe2\x80\x9c", b"\xe2\x80\x9d", b"caf\xc3\xa9", b" ", b"a", b"\xc3\xa0 la", b"\xce ",
           b"\xd9 ", b"\xc5 "]
for _ in range(800):
    b = b"".join(rng.choice(special) for _ in range(rng.randint(1, 5)))
    t = b.decode(rng.choice(encodings[:9]), errors="replace")
    texts.append(t.replace("\xa0", " ") if rng.random() < 0.3 else t)
entities = ["&amp;", "&AMP;", "&#65;", "&#x41;", "&#0;", "&#13;", "&#59;", "&#1;", "&#128;", "&#x81;", "&#xD800;",
            "&#x110000;", "&#99999999999999999999;", "&#xFFFE;", "&#65a;", "&#x;", "&eacute;", "&EACUTE;", "&SZLIG;",
            "&nTILDE;", "&Jscr;", "&aaaaaaaaaaaaaaaaaaaaaaaaa;", "&amp;lt;", "&lt", "&hellip;", "<", "\n", "\x1b[", "٣",
            ";", "m", "x", " ", "é", "Ã©"]
for _ in range(600):
    texts.append("".join(rng.choice(entities) for _ in range(rng.randint(1, 6))))
for _ in range(600):
    texts.append("".join(random_char() for _ in range(rng.randint(1, 12))))

alphabet = set("abcxyzABCXYZ .,?!_09\n\t'\"ГўВЂВ")
for body in list(badness.MOJIBAKE_CATEGORIES.values()) + list(chardata.UTF8_CLUES.values()):
    rx = re.compile("[" + body + "]")
    alphabet.update(chr(c) for c in range(0x10000) if rx.match(chr(c)))
alphabet = sorted(alphabet)
bad_texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(2000)]

out = {
    "generator": "tests/tools/gen_ftfy_vectors.py",
    "versions": {"ftfy": ftfy.__version__, "python": "%d.%d.%d" % sys.version_info[:3],
                 "unicodedata": unicodedata.unidata_version},
    "fields": {
        "fix_text": "[text, ftfy.fix_text(text)] with the default configuration",
        "fix_encoding": "[text, ftfy.fix_encoding(text)]",
        "is_bad": "[text, ftfy.badness.is_bad(text)]",
    },
    "fix_text": [[t, ftfy.fix_text(t)] for t in texts + bad_texts[:500]],
    "fix_encoding": [[t, ftfy.fix_encoding(t)] for t in texts],
    "is_bad": [[t, ftfy.badness.is_bad(t)] for t in bad_texts],
}
json.dump(out, sys.stdout, ensure_ascii=False, indent=0)
print()
