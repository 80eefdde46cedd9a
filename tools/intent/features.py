"""Feature hashing shared with src/intent.rs: the two must stay byte-for-byte identical.

The text is the *masked* prompt (src/shape.rs `mask`: lower case, digit runs `#`, quoted spans `"…"`,
whitespace collapsed). Tokens are words (runs of word characters) and single CJK characters. Features:
- every token (word or CJK character): `token_hash` of its UTF-8 bytes;
- every pair of consecutive tokens: their two hashes combined;
- for words of at least AFFIX_MIN bytes: their first and last AFFIX bytes, so inflected forms share
  evidence.
Each feature hash is multiplied by a 32-bit odd constant and its top BITS bits pick the bucket.
Texts longer than MAX_BYTES are read as their first and last HALF bytes (cut at character bounds).
"""

BITS = 15
MAX_BYTES = 4096
HALF = 2048
M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
K = 0x9E3779B97F4A7C15
GOLDEN = 0x9E3779B1
# Words of at least AFFIX_MIN bytes also give their first and last AFFIX bytes as features.
AFFIX = 6
AFFIX_MIN = 7
AFFIX_MASK = (1 << (8 * AFFIX)) - 1
PREFIX_TAG = 1 << 48
SUFFIX_TAG = 1 << 49


def token_hash(data):
    """32-bit hash of a token's bytes: eight bytes at a time (big-endian), multiply-rotate mixing."""
    h = 0
    reg = 0
    for n, b in enumerate(data, 1):
        reg = ((reg << 8) | b) & M64
        if n % 8 == 0:
            h = ((h ^ reg) * K) & M64
            h = ((h << 31) | (h >> 33)) & M64
            reg = 0
    h = ((h ^ reg ^ ((len(data) << 56) & M64)) * K) & M64
    return h >> 32


def fold(x):
    return ((x * K) & M64) >> 32


def bucket(h):
    return ((h * GOLDEN) & M32) >> (32 - BITS)


def pair(a, b):
    return ((a * GOLDEN) & M32) ^ b


def is_cjk(cp):
    return 0x3040 <= cp <= 0x9FFF or 0xAC00 <= cp <= 0xD7AF


def is_word(cp):
    if cp < 0x80:
        c = chr(cp)
        return c.isalnum() or c in "#'_<>/"
    if 0x80 <= cp <= 0xBF or 0x2000 <= cp <= 0x2BFF or 0x3000 <= cp <= 0x303F:
        return False
    if 0xFE30 <= cp <= 0xFE4F or 0xFF00 <= cp <= 0xFF65:
        return False
    return not is_cjk(cp)


def segments(text):
    data = text.encode("utf-8")
    if len(data) <= MAX_BYTES:
        return [data]
    head = HALF
    while head > 0 and (data[head] & 0xC0) == 0x80:
        head -= 1
    tail = len(data) - HALF
    while tail < len(data) and (data[tail] & 0xC0) == 0x80:
        tail += 1
    return [data[:head], data[tail:]]


def features(text):
    """The bucket of every feature of `text`, in order (repeats included)."""
    out = []
    for seg in segments(text):
        chars = seg.decode("utf-8", errors="strict")
        prev = None
        i = 0
        n = len(chars)
        while i < n:
            cp = ord(chars[i])
            if is_cjk(cp):
                h = token_hash(chars[i].encode("utf-8"))
                i += 1
            elif is_word(cp):
                j = i
                while j < n and is_word(ord(chars[j])):
                    j += 1
                word = chars[i:j].encode("utf-8")
                h = token_hash(word)
                if len(word) >= AFFIX_MIN:
                    out.append(bucket(fold(int.from_bytes(word[:AFFIX], "big") ^ PREFIX_TAG)))
                    out.append(bucket(fold(int.from_bytes(word[-AFFIX:], "big") ^ SUFFIX_TAG)))
                i = j
            else:
                i += 1
                continue
            out.append(bucket(h))
            if prev is not None:
                out.append(bucket(pair(prev, h)))
            prev = h
    return out


def mask(text):
    """A port of src/shape.rs `mask` (the tests check both agree on the shared vectors)."""
    out = []
    prev = "space"
    i = 0
    n = len(text)
    closing = {"“": "”", "「": "」", "«": "»"}
    while i < n:
        c = text[i]
        if c in "\"`":
            out.append('"…"')
            j = text.find(c, i + 1)
            i = n if j < 0 else j + 1
            prev = "plain"
        elif c in closing:
            out.append('"…"')
            j = text.find(closing[c], i + 1)
            i = n if j < 0 else j + 1
            prev = "plain"
        elif c.isascii() and c.isdigit():
            if prev != "digit":
                out.append("#")
            prev = "digit"
            i += 1
        elif c in " \t\n\r\x0b\x0c" or (not c.isascii() and c.isspace()):
            if prev != "space":
                out.append(" ")
            prev = "space"
            i += 1
        else:
            out.append(c.lower())
            prev = "plain"
            i += 1
    return "".join(out).rstrip(" ")

