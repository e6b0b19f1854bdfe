"""The contract's rules for usernames, passwords, room names and paging.

A username must also be one that nobody can mistake for another: the
contract's characters (letters of any script, digits, ``_.-``) are checked
first, then what the IETF PRECIS username profile (RFC 8265) refuses or
would change beyond letter case, stacked combining marks, names without a
letter or digit, and letters of one script that pass for another script's
(Unicode UTS #39). Each refusal says what to type instead. The comparison
key itself is :func:`storage.usernames.username_key`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any

from confusable_homoglyphs import categories, confusables
from precis_i18n.unicode import UnicodeData

from storage.usernames import precis_refusal
from web.errors import ApiError

USERNAME_MAX = 32
PASSWORD_MIN, PASSWORD_MAX = 8, 128
ROOM_NAME_MAX = 64
HISTORY_DEFAULT, HISTORY_MAX = 50, 200

# Nonspacing marks one after another. Three covers real writing: Devanagari
# nukta + vowel sign + anusvara, Tibetan stacked consonants + vowel, Hebrew
# points, Thai vowel + tone mark (NFC composes Latin and Vietnamese accents).
# More only serves to pile marks on a letter until it covers its neighbours.
COMBINING_RUN_MAX = 3

_PUNCTUATION = frozenset("_.-")
_UCD = UnicodeData()
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp"})
_NONSPACING = frozenset({"Mn", "Me"})

# Scripts that are written together (UTS #39 "highly restrictive"): a name
# inside one of these sets is not mixed-script. Common (digits, "_.-") and
# Inherited (generic combining marks) belong to every script.
_SHARED_SCRIPTS = frozenset({"COMMON", "INHERITED"})
_SCRIPT_SETS = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)

_STYLED = (
    "username must use ordinary, not full-width or styled, characters: type the plain letters and digits"
)
_PRECIS_ADVICE = {
    "has_compat": _STYLED,
    "width_mapped": _STYLED,
    "bidi_rule": (
        "username mixes right-to-left and left-to-right writing: begin with an Arabic or Hebrew letter "
        "and leave out Latin and other left-to-right letters"
    ),
    "old_hangul_jamo": "username must write Hangul as whole syllables, not as separate jamo",
    "unassigned": "username contains a character Unicode has not assigned yet; remove it",
}


def bad_request(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


def _allowed(ch: str, first: bool) -> bool:
    if ch in _PUNCTUATION:
        return True
    category = unicodedata.category(ch)
    if category.startswith("L") or category == "Nd":
        return True
    # Combining marks complete letters in many scripts (Devanagari, Thai...), never lead.
    return category.startswith("M") and not first


def _invisible(ch: str) -> bool:
    """Control and format characters, and letters or marks that draw nothing (Hangul fillers)."""
    return unicodedata.category(ch) in _INVISIBLE or _UCD.default_ignorable(ord(ch))


def _codepoint(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()


def _overstacked(name: str) -> bool:
    """More than COMBINING_RUN_MAX nonspacing marks in a row, or one mark twice in a row (UTS #39 5.4).

    Counted on the decomposed form, so that an accent is counted whether or
    not NFC found a precomposed letter for it.
    """
    run, previous = 0, ""
    for ch in unicodedata.normalize("NFD", name):
        if unicodedata.category(ch) in _NONSPACING:
            run += 1
            if run > COMBINING_RUN_MAX or ch == previous:
                return True
        else:
            run = 0
        previous = ch
    return False


def lookalike(name: str) -> tuple[str, str, str] | None:
    """(script, letter, look-alike) when ``name`` mixes scripts and could pass for a name in one of them.

    This is UTS #39's mixed-script confusable: every letter from outside
    ``script`` has a look-alike in it, so the whole name can be imitated,
    or imitates, in that one script (``alice`` with a Cyrillic "a"). Scripts
    written together (Japanese, Korean, Chinese with Latin) count as one;
    a name in one script (``Ольга``, ``張三``) is never examined.
    """
    counts = Counter(categories.alias(ch) for ch in name)
    scripts = set(counts) - _SHARED_SCRIPTS
    if len(scripts) < 2 or any(scripts <= together for together in _SCRIPT_SETS):
        return None
    for script in sorted(scripts, key=lambda s: (-counts[s], s)):
        hits = confusables.is_confusable(name, greedy=True, preferred_aliases=[script]) or []
        looks = {
            hit["character"]: glyph["c"]
            for hit in hits
            for glyph in hit["homoglyphs"]
            if any(categories.alias(c) == script for c in glyph["c"])
        }
        foreign = [ch for ch in name if categories.alias(ch) not in _SHARED_SCRIPTS | {script}]
        if all(ch in looks for ch in foreign):
            return script, foreign[0], looks[foreign[0]]
    return None


def username(value: Any) -> str:
    """NFC-normalised username, or a 400 saying what is wrong and what to type instead."""
    if not isinstance(value, str):
        raise bad_request("username must be a string")
    name = unicodedata.normalize("NFC", value)
    generic = f"username must be 1 to {USERNAME_MAX} letters (any script), digits, '_', '.' or '-'"
    if not 1 <= len(name) <= USERNAME_MAX:
        raise bad_request(generic)
    hidden = next((ch for ch in name if _invisible(ch)), None)
    if hidden is not None:
        raise bad_request(
            f"username must not contain invisible characters ({_codepoint(hidden)}): "
            "use only letters and digits that show"
        )
    stray = next((ch for i, ch in enumerate(name) if not _allowed(ch, i == 0)), None)
    if stray is not None:
        # Circled, Roman-numeral and similar styled forms of allowed characters get the precise advice.
        plain = unicodedata.normalize("NFKC", stray)
        styled = plain != stray and all(_allowed(ch, False) for ch in plain)
        raise bad_request(_STYLED if styled else generic)
    refusal = precis_refusal(name)
    if refusal is not None:
        advice = _PRECIS_ADVICE.get(refusal.reason)
        if advice is None:
            where = f" {_codepoint(refusal.character)}" if refusal.character else ""
            advice = f"username contains a character{where} that usernames cannot hold (RFC 8265); remove it"
        raise bad_request(advice)
    if _overstacked(name):
        raise bad_request(
            f"username must not stack more than {COMBINING_RUN_MAX} combining marks on a letter "
            "or repeat one mark: write each accent once"
        )
    if not any(unicodedata.category(ch)[0] == "L" or unicodedata.category(ch) == "Nd" for ch in name):
        raise bad_request("username must contain at least one letter or digit, not only '_', '.' or '-'")
    mimic = lookalike(name)
    if mimic is not None:
        script, letter, glyph = mimic
        raise bad_request(
            f"username mixes scripts and could pass for a {script.title()} name ({letter!r} looks like "
            f"{glyph!r}): write the name in one script"
        )
    return name


def password(value: Any) -> str:
    if not isinstance(value, str) or not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise bad_request(f"password must be a string of {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    return value


_ZWJ = "\u200d"
_EMOJI_VARIATION = "\ufe0f"
# A subdivision flag (England, Scotland, Wales): black flag, tag letters, cancel tag.
_FLAG_TAGS = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")
_BLANK_SYMBOLS = frozenset("\u2800")  # Braille pattern blank: a symbol that draws nothing


def _emoji_glue(name: str) -> set[int]:
    """Positions of format characters that hold an emoji together (ZWJ sequences, flag tags)."""
    glue = {i for m in _FLAG_TAGS.finditer(name) for i in range(m.start() + 1, m.end())}
    for i, ch in enumerate(name[1:-1], start=1):
        before, after = name[i - 1], name[i + 1]
        emoji_before = unicodedata.category(before) in ("So", "Sk") or before == _EMOJI_VARIATION
        if ch == _ZWJ and emoji_before and unicodedata.category(after) == "So":
            glue.add(i)
    return glue


def room_name_problem(value: Any) -> str | None:
    """What is wrong with a room name, or None; shared by the API and the configured rooms.

    Control and format characters (NUL, newlines, tabs, bidi overrides,
    zero-width characters, line and paragraph separators) would break lines
    in clients or make the name read differently from what it is; the
    zero-width joiner and tag characters inside an emoji are the exception.
    """
    if not isinstance(value, str) or len(value) > ROOM_NAME_MAX:
        return f"name must be 1 to {ROOM_NAME_MAX} characters and not blank"
    glue = _emoji_glue(value)
    for i, ch in enumerate(value):
        if unicodedata.category(ch) in _INVISIBLE and i not in glue:
            return (
                f"name must not contain control or invisible format characters ({_codepoint(ch)}): remove it"
            )
    if all(ch.isspace() or ch in _BLANK_SYMBOLS or _invisible(ch) for ch in value):
        return f"name must be 1 to {ROOM_NAME_MAX} characters and not blank"
    return None


def room_name(value: Any) -> str:
    problem = room_name_problem(value)
    if problem is not None:
        raise bad_request(problem)
    name: str = value
    return name


def _positive_int(raw: str, name: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise bad_request(f"{name} must be a positive integer")
    return int(raw)


def paging(args: Any) -> tuple[int | None, int]:
    """``before`` and ``limit`` from a query string, as the history endpoints take them."""
    before_raw, limit_raw = args.get("before"), args.get("limit")
    before = None if before_raw is None else _positive_int(before_raw, "before")
    limit = HISTORY_DEFAULT
    if limit_raw is not None:
        limit = _positive_int(limit_raw, "limit")
        if not 1 <= limit <= HISTORY_MAX:
            raise bad_request(f"limit must be from 1 to {HISTORY_MAX}")
    if before is not None and before < 1:
        raise bad_request("before must be a positive integer")
    return before, limit
