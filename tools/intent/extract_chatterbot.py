"""Extracts the dialogue lines of chatterbot-corpus 1.3.3 (BSD-3-Clause) into data/chatterbot.jsonl.

Usage: pip download --no-deps chatterbot-corpus==1.3.3 -d /tmp/cc && python3 extract_chatterbot.py /tmp/cc/*.whl

Only the languages the intent model is trained on are kept. The YAML files are simple lists of lists
of strings, read here without a YAML library so the script needs nothing beyond the standard library.
"""

import json
import sys
import zipfile
from pathlib import Path

LANGS = {
    "english": "en", "chinese": "zh", "spanish": "es", "french": "fr", "german": "de",
    "japanese": "ja", "russian": "ru", "portuguese": "pt", "italian": "it", "korean": "ko", "indonesian": "id",
}


def lines_of(text):
    out = []
    for raw in text.splitlines():
        s = raw.strip()
        if s.startswith("- - "):
            s = s[4:]
        elif s.startswith("- ") and raw.startswith("  "):
            s = s[2:]
        else:
            continue
        s = s.strip()
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
            s = s[1:-1]
        if s:
            out.append(s)
    return out


def main(wheel):
    rows = []
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            parts = name.split("/")
            if len(parts) != 4 or parts[:2] != ["chatterbot_corpus", "data"] or not name.endswith(".yml"):
                continue
            lang = LANGS.get(parts[2])
            if not lang:
                continue
            seen = set()
            for line in lines_of(z.read(name).decode("utf-8")):
                if line in seen:
                    continue
                seen.add(line)
                rows.append({"lang": lang, "file": parts[3], "text": line,
                             "source": f"chatterbot-corpus==1.3.3:{'/'.join(parts)}"})
    out = Path(__file__).parent / "data" / "chatterbot.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} lines -> {out}")


if __name__ == "__main__":
    main(sys.argv[1])
