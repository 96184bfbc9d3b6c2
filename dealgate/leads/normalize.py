"""Keys that make two spellings of one inquirer compare equal.

Pure Python (no Django): the de-duplication and the tests read these. Each
function takes what a person typed and returns the key stored beside it, or
"" when there is nothing to compare. Refusals are `ValueError`s whose message
says what is wrong with the value; the caller names the field.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import phonenumbers
from rapidfuzz import fuzz

from dealgate.core.names import name_key

# German forms added to LEGAL_SUFFIXES after leads were stored (leads
# migration 0006 recomputes the keys of leads whose names end in one).
ADDED_GERMAN_FORMS = frozenset(
    {"ohg", "gbr", "partg", "mbb", "ek", "ev", "eg", "kgaa", "haftungsbeschrankt"}
)
# German letters written as German writes them without the letter: "Schröder"
# and "Schroeder" give one key, as "Strauß" and "Strauss" already did (case
# folding makes "ß" "ss"). Applied before accents are dropped.
TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

# Legal forms dropped from the end of company names before comparing them,
# each as its letters alone: a form is read whatever its dots, slashes and
# spaces, so "Ges.m.b.H.", "Ges. m. b. H." and "GesmbH" are all "gesmbh",
# "A/S" is "as" and "Sp. z o.o." is "spzoo" (`_without_legal_forms`).
LEGAL_SUFFIXES = frozenset(
    {
        # English-speaking countries, and forms written in English elsewhere:
        # "Pty Ltd" (Australia), "Pte Ltd" (Singapore), "Pvt Ltd" (India),
        # "Sdn Bhd" (Malaysia), "Ltd. Sti." (Turkey) drop word by word.
        *("bhd", "co", "company", "corp", "corporation", "inc", "incorporated"),
        *("limited", "llc", "llp", "lp", "ltd", "plc", "pte", "pty", "pvt"),
        *("sdn", "sti"),
        # German-speaking countries: GmbH and AG, an Austrian "Ges.m.b.H."
        # and "OG", Italian-speaking Switzerland's "Sagl".
        *("ag", "gesmbh", "gmbh", "kg", "mbh", "og", "sagl", "se", "ug"),
        # Partnerships (OHG, GbR, PartG mbB), a sole trader (e.K.),
        # associations and cooperatives (e.V., eG), KGaA, and the UG's
        # "(haftungsbeschränkt)".
        *ADDED_GERMAN_FORMS,
        # "(haftungsbeschränkt)" as the transliteration spells it.
        "haftungsbeschraenkt",
        # The Nordic and Baltic countries: "AB", "A/S", "ApS", "ASA", "Oy",
        # "Oyj", "ehf.", "UAB", "SIA".
        *("ab", "aps", "as", "asa", "ehf", "oy", "oyj", "sia", "uab"),
        # The Benelux: "B.V.", "N.V.", "BVBA", "CVBA", "SPRL", "VOF".
        *("bv", "bvba", "cvba", "nv", "sprl", "vof"),
        # France, Italy, Spain, Portugal and Latin America: "S.A.", "SAS",
        # "SASU", "SARL" (also "S.à r.l."), "EURL", "S.p.A.", "S.r.l.",
        # "S.r.l.s.", "S.n.c.", "S.L.", "S.L.U.", "S.A.U.", "Lda.", "Ltda.",
        # "EIRELI", "ME", "S.A. de C.V.", "S. de R.L. (de C.V.)".
        *("eireli", "eurl", "lda", "ltda", "me", "sa", "sadecv", "sarl", "sas"),
        *("sasu", "sau", "sderl", "sderldecv", "sl", "slu", "snc", "spa", "srl"),
        "srls",
        # Central and Eastern Europe: "Sp. z o.o.", "Sp. j.", "Sp. k."
        # (Poland), "s.r.o.", "spol. s r.o." (Czechia, Slovakia), "Kft.",
        # "Zrt.", "Nyrt." (Hungary), "d.o.o." (Slovenia, Croatia, Serbia),
        # "OOD", "EOOD" (Bulgaria).
        *("doo", "eood", "kft", "nyrt", "ood", "spj", "spk", "spolsro", "spzoo"),
        *("sro", "zrt"),
        # Japan: "K.K.".
        "kk",
    }
)
# The most words one legal form is written in once its dots are read:
# "S. de R.L. de C.V." gives "s", "de", "rl", "de", "cv".
LEGAL_FORM_WORDS = 5
# Company names of different keys at or above this similarity (0-100,
# rapidfuzz token sort ratio of the keys) are shown on a lead's page as
# possibly one company (`similar`), never joined: firms a vowel or a letter
# apart ("Kaiser Bau", "Keiser Bau") score as high as a misspelling.
COMPANY_MATCH_SCORE = 90
# The longest company key and company domain stored (their columns): folding
# and the ASCII form of a domain can make a key longer than what was typed.
COMPANY_KEY_LENGTH = 200
DOMAIN_KEY_LENGTH = 200
EMAIL_KEY_LENGTH = 254

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    # A top-level domain of letters, or an internationalised one's ASCII
    # form (".中国" is "xn--fiqs8s"), as a website's may be.
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
)
# What an address's local part may hold besides ASCII's: letters, marks and
# digits of any script (RFC 6531), never spaces, symbols or invisibles.
_LOCAL_LETTERS = ("L", "M", "N")
# The longest local part, in bytes of UTF-8 (RFC 6531 keeps RFC 5321's 64).
_LOCAL_BYTES = 64
_DOMAIN = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}[a-z0-9]"
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
# A scheme as browsers read one ("javascript:", "data:", "https:"), unless
# what follows the colon is a port ("acme.com:8080").
_SCHEME_NAME = re.compile(r"^([a-z][a-z0-9+.-]*):(?!\d)", re.IGNORECASE)
WEB_SCHEMES = ("http", "https")
_NOT_WORD = re.compile(r"[^\w\s]")
_NUMBERS = re.compile(r"\d+")

# What follows a provider family's name: hotmail.com, hotmail.de,
# hotmail.co.uk, hotmail.com.br.
_COUNTRY_ENDING = re.compile(r"com|net|(?:(?:co|com|net|org|ne|or)\.)?[a-z]{2}")
_FAMILY = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class SharedDomains:
    """Domains that do not stand for one company (shared_domains.toml)."""

    families: frozenset[str]
    mailbox: frozenset[str]
    sites: frozenset[str]


def read_shared_domains(text: str) -> SharedDomains:
    """The lists of a shared_domains.toml. Entries are taken without case or
    a trailing dot; one that is not a domain (or, in `families`, a name such
    as "hotmail") is a `ValueError` naming it."""
    data = tomllib.loads(text)
    families = {name.strip().lower() for name in data.get("families", [])}
    for name in families:
        if not _FAMILY.fullmatch(name):
            raise ValueError(f"families: {name!r} is not a name such as hotmail")
    return SharedDomains(
        frozenset(families),
        _domains(data.get("mailbox", {}), "mailbox"),
        _domains(data.get("sites", {}), "sites"),
    )


def _domains(groups: dict[str, list[str]], table: str) -> frozenset[str]:
    domains = set()
    for group, entries in groups.items():
        for entry in entries:
            domain = entry.strip().lower().rstrip(".")
            if not _DOMAIN.fullmatch(domain) or domain.startswith("www."):
                raise ValueError(
                    f"{table}.{group}: {entry!r} is not a domain such as hotmail.de"
                )
            domains.add(domain)
    return frozenset(domains)


SHARED = read_shared_domains(
    Path(__file__).with_name("shared_domains.toml").read_text(encoding="utf-8")
)


# Providers whose mailboxes ignore dots in the local part: "max.g@" and
# "maxg@" are one mailbox there (and at no other provider, so elsewhere a
# dot stays).
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
# Domains that deliver to another's mailboxes: Google gives every gmail.com
# address at googlemail.com too (the name it used where "Gmail" was taken),
# so "max@googlemail.com" is "max@gmail.com". Keys name the domain mapped to.
SAME_MAILBOXES = {"googlemail.com": "gmail.com"}


def email_key(text: str) -> str:
    """What two spellings of one mailbox share, for matching only (the lead
    keeps the address as typed): `email_address` without a "+tag" in the
    local part ("max+web@acme.de" is "max@acme.de", at any domain), and at
    gmail.com or googlemail.com without dots in it ("Max.G+web@gmail.com" is
    "maxg@gmail.com"), a domain that delivers to another's mailboxes named
    as that one (`SAME_MAILBOXES`: "max@googlemail.com" is "max@gmail.com").
    "" for an empty field; a ValueError as `email_address`'s for one that is
    no address.

    The one rule for every stored email key: leads' and the deals' contacts'
    (`deals.models.Person.email_key`), so an inquiry meets both alike."""
    address = email_address(text)
    if not address:
        return ""
    local, _, domain = address.rpartition("@")
    # "+web" alone is no local part: such an address keeps its plus.
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "") or local
    return f"{local}@{SAME_MAILBOXES.get(domain, domain)}"


def without_mailto(text: str) -> str:
    """`text` without surrounding spaces and without a `mailto:` in front, in
    any case: what a link's address copied from a page brings along. What
    every email is read from, a lead's as typed and a contact's alike."""
    value = text.strip()
    if value[:7].lower() == "mailto:":
        value = value[7:].strip()
    return value


def email_address(text: str) -> str:
    """`text` without surrounding spaces, in lower case; "" for an empty field.

    Case is folded in the local part too: no mail system in use treats
    "Anna@" and "anna@" as two people, and leads are typed by hand.

    Internationalised addresses are taken whole (RFC 6531): letters of any
    script in the local part ("jörg@"), kept in Unicode's composed form so
    that both ways of typing "ö" give one key, and an accented domain in its
    ASCII form ("ümlaut.de" is "xn--mlaut-jva.de").
    """
    value = without_mailto(text).lower()
    if not value:
        return ""
    local, at, domain = value.rpartition("@")
    if not local.isascii():
        local = unicodedata.normalize("NFC", local)
        value = f"{local}@{domain}"
    if at and not domain.isascii():
        # An accented domain (zoe@exämple.de) is kept in its ASCII form, as
        # a website's is (domain_key), so both give one company domain. One
        # that does not encode is refused below, as any unreadable address.
        with contextlib.suppress(UnicodeError):
            value = f"{local}@{domain.encode('idna').decode('ascii')}"
    if not _is_email(value, local) or ".." in value:
        raise ValueError(
            f"{text.strip()!r} is not an email address like name@example.com"
        )
    if len(value) > EMAIL_KEY_LENGTH:
        # An accented domain's ASCII form is longer than what was typed.
        raise ValueError(
            f"email is {len(value):,} characters long with its domain in ASCII "
            f"({value.rpartition('@')[2][:40]}...); the limit is {EMAIL_KEY_LENGTH}"
        )
    return value


def _is_email(value: str, local: str) -> bool:
    """Whether `value` (its domain in ASCII) reads as an address: the ASCII
    pattern, with each letter, mark or digit of another script in the local
    part taken as one ASCII letter, and the local part at most 64 bytes."""
    if local.isascii():
        return _EMAIL.fullmatch(value) is not None
    if len(local.encode()) > _LOCAL_BYTES:
        return False
    stand_in = []
    for char in local:
        if char.isascii():
            stand_in.append(char)
        elif unicodedata.category(char)[0] in _LOCAL_LETTERS:
            stand_in.append("a")
        else:
            return False
    return _EMAIL.fullmatch("".join(stand_in) + value[len(local) :]) is not None


def email_domain(key: str) -> str:
    """The company domain an email key gives away; "" for a mailbox provider's."""
    domain = key.rpartition("@")[2]
    return "" if is_mailbox_provider(domain) else domain[:DOMAIN_KEY_LENGTH]


def website_domain(key: str) -> str:
    """The company domain a website's `domain_key` gives away; "" for a
    mailbox provider's, or a site hosting many companies' pages."""
    if is_mailbox_provider(key) or any(p in SHARED.sites for p in _parents(key)):
        return ""
    return key


# A second level under a country's ending that is part of the ending, not
# a firm's name: "acme.co.uk", "acme.com.br", "acme.or.at".
_SECOND_LEVEL = re.compile(r"(?:ac|co|com|edu|gov|gv|ne|net|or|org)\.[a-z]{2}")


def domain_name(domain: str) -> str:
    """The name a domain is registered under, without its ending or any
    subdomain: "acme" for acme.de, acme.com, acme.co.uk and shop.acme.de."""
    labels = domain.split(".")
    if len(labels) > 2 and _SECOND_LEVEL.fullmatch(".".join(labels[-2:])):
        return labels[-3]
    return labels[-2] if len(labels) > 1 else domain


def other_firms(ours: Iterable[str], theirs: Iterable[str]) -> bool:
    """Whether two records' company domains (`email_domain`,
    `website_domain`) say they are two firms: each has one, and they share
    no domain name (`domain_name`). One firm under two endings (acme.de,
    acme.com) is one firm; a record without a company domain (a mailbox
    provider's address) says nothing."""
    names = {domain_name(domain) for domain in ours if domain}
    other = {domain_name(domain) for domain in theirs if domain}
    return bool(names and other) and not names & other


@lru_cache(maxsize=4096)
def is_mailbox_provider(domain: str) -> bool:
    """True for a domain many unrelated people have mailboxes at (hotmail.de,
    bluewin.ch, orange.fr; see shared_domains.toml), or a subdomain of one.
    Case and a trailing dot do not matter."""
    for parent in _parents(domain.strip().lower().rstrip(".")):
        if parent in SHARED.mailbox:
            return True
        name, _, ending = parent.partition(".")
        if name in SHARED.families and _COUNTRY_ENDING.fullmatch(ending):
            return True
    return False


def _parents(domain: str) -> list[str]:
    """`domain` and the domains it is under: "a.b.de" gives it, "b.de", "de"."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def website_url(text: str) -> str:
    """`text` as a web address a browser may open; "" for an empty field.

    The one check of a website at every door (the API, the forms, imports):
    an http:// or https:// address is kept as given, a bare domain
    ("acme.com/contact") gets https:// in front. Any other scheme
    (javascript:, data:, ftp://), an address without one but with "//"
    ("//acme.com"), spaces, or a host that is no domain is a ValueError
    saying which schemes are allowed.
    """
    value = text.strip()
    if not value:
        return ""
    scheme = _SCHEME_NAME.match(value)
    if any(c.isspace() for c in value) or value.startswith(("/", "\\")):
        raise ValueError(_not_web(value))
    if scheme is None:
        value = f"https://{value}"
    elif scheme[1].lower() not in WEB_SCHEMES or not value[scheme.end() :].startswith(
        "//"
    ):
        raise ValueError(_not_web(value))
    try:
        domain_key(value)
    except ValueError:
        raise ValueError(_not_web(text.strip())) from None
    return value


def _not_web(value: str) -> str:
    return (
        f"website must be an http:// or https:// address, or a domain such as "
        f"acme.com; {value!r} is not"
    )


def domain_key(text: str) -> str:
    """The bare host of a web address: no scheme, "www.", port, path or case.

    "https://www.Acme.com/contact" and "acme.com" give "acme.com".
    """
    value = text.strip().lower()
    if not value:
        return ""
    value = _SCHEME.sub("", value)
    value = value.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    value = value.rpartition("@")[2].split(":", 1)[0].rstrip(".")
    if value.startswith("www."):
        value = value[4:]
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{text.strip()!r} is not a web address") from None
    if not _DOMAIN.fullmatch(value):
        raise ValueError(f"{text.strip()!r} is not a web address like acme.com")
    return value[:DOMAIN_KEY_LENGTH]


def phone_key(text: str, region: str | None) -> str:
    """The number in E.164 ("+493012345678"); "" for an empty field.

    Numbers without a country prefix are read in `region` (ISO 3166 code);
    without a region only international numbers ("+49 ...") can be read.
    """
    value = text.strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException:
        hint = "" if region else "; write it with its country code, e.g. +49 ..."
        raise ValueError(f"{value!r} is not a phone number{hint}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_international(text: str, region: str | None) -> str:
    """The number read as `phone_key` reads it, written for people with its
    country code ("030 1234567" in DE gives "+49 30 1234567"): text that
    reads the same in any country. A ValueError when it does not read."""
    number = phonenumbers.parse(phone_key(text, region))
    return phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def line_breaks(text: str) -> str:
    """`text` with every line break as one "\\n": a browser sends a textarea's
    breaks as "\\r\\n" but counts each as one character against its
    maxlength, so a message it let through must be counted, and stored, so."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


@lru_cache(maxsize=4096)
def company_key(text: str) -> str:
    """A company name reduced for comparison: German letters transliterated
    (`TRANSLITERATION`), other accents, punctuation, case and legal forms
    dropped ("Müller GmbH & Co. KG" gives "mueller").

    Built on `names.name_key`, the rule organizations are found by, so the
    spellings of one organization ("Ac\u200bme" with a zero-width space,
    "ＡＣＭＥ") give one company key."""
    folded = unicodedata.normalize("NFKD", name_key(text).translate(TRANSLITERATION))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    # Dotted abbreviations first, so "G.m.b.H." loses its dots, not its letters.
    folded = re.sub(r"\b(\w)\.(?=\w\b|\w\.)", r"\1", folded).replace("&", " ")
    words = _without_legal_forms(_NOT_WORD.sub(" ", folded).split())
    # Folding can lengthen a name ("ß" is "ss").
    return " ".join(words)[:COMPANY_KEY_LENGTH]


def _without_legal_forms(words: list[str]) -> list[str]:
    """`words` without the legal forms (`LEGAL_SUFFIXES`) they end in, one
    after another ("gmbh", "co", "kg"), always keeping the first word.

    A form is compared with its letters alone: punctuation has made "A/S"
    the words "a" and "s", and "Sp. z o.o." "sp", "z" and "oo", so up to
    `LEGAL_FORM_WORDS` last words are joined and looked up, the most first.
    Only the end of a name is read: "AB Testing Ltd" keeps its "ab", and a
    word is dropped only as the whole of a form or of its last words."""
    words = list(words)
    while len(words) > 1:
        for size in range(min(LEGAL_FORM_WORDS, len(words) - 1), 0, -1):
            if "".join(words[-size:]) in LEGAL_SUFFIXES:
                del words[-size:]
                break
        else:
            break
    return words


# Words many unrelated companies' names hold: a name is blocked by its other
# words, and by these only when it has no other ("IT Consulting").
GENERIC_WORDS = frozenset(
    {
        *("agency", "agentur", "beratung", "consult", "consultancy"),
        *("consulting", "data", "design", "digital", "engineering", "gruppe"),
        *("global", "group", "holding", "holdings", "international", "it", "labs"),
        *("logistics", "management", "marketing", "media", "partner", "partners"),
        *("service", "services", "software", "solutions", "studio", "systems"),
        *("systemhaus", "tech", "technik", "technologies", "technology", "the"),
        *("und", "and", "works", "of", "der", "die", "das", "von", "for"),
    }
)
# How much of a word a block holds: a typo after it ("Schmitt", "Schmidt")
# still meets, and a transliteration ("ue", "u") is folded first.
BLOCK_PREFIX = 4
_SPOKEN_VOWELS = (("ae", "a"), ("oe", "o"), ("ue", "u"))


def company_blocks(key: str) -> tuple[str, ...]:
    """The blocks of a company key, one or two, that de-duplication reads
    candidates by: of its distinctive words (not `GENERIC_WORDS`, unless
    it has no other), the first and the last in alphabetical order, each cut
    to its first `BLOCK_PREFIX` letters with "ae", "oe" and "ue" read as
    "a", "o" and "u" (so "Muller" meets "Mueller").

    Two names scoring `COMPANY_MATCH_SCORE` differ by a few letters, so one
    of them changes at most a word or two: words swapped, a first or generic
    word misspelt ("Konsulting Schmidt"), or a letter late in a word leave a
    block in common. Candidates compare each of their blocks with each of
    the inquiry's."""
    words = [w for w in key.split() if not w.isdigit()] or key.split()
    distinctive = [w for w in words if w not in GENERIC_WORDS] or words
    if not distinctive:
        return ()
    folded = sorted({_block_word(word) for word in distinctive})
    return tuple(dict.fromkeys((folded[0], folded[-1])))


def _block_word(word: str) -> str:
    for pair, vowel in _SPOKEN_VOWELS:
        word = word.replace(pair, vowel)
    return word[:BLOCK_PREFIX]


def company_block(key: str) -> str:
    """The first of a company key's blocks (`company_blocks`); "" for none."""
    blocks = company_blocks(key)
    return blocks[0] if blocks else ""


# The longest company match key stored (its columns): a block and a name's
# numbers.
COMPANY_MATCH_LENGTH = 80


def company_matches(key: str) -> tuple[str, ...]:
    """What a company key shares with every key `company_score` may score
    at least `COMPANY_MATCH_SCORE` and a user would call the same company:
    each of its blocks (`company_blocks`) with its numbers, in order
    ("firm 12 berlin" gives "berl 12" and "firm 12"). The de-duplication
    reads candidates by them, so that a thousand "Firm N GmbH" leads are
    not compared with each new "Firm N"; cut short, one only widens the
    candidates, never drops one. A lead stores the first as
    `company_match`, the second (or "") as `company_match_other`."""
    if not key:
        return ()
    numbers = _NUMBERS.findall(key)
    return tuple(
        " ".join([block, *numbers])[:COMPANY_MATCH_LENGTH]
        for block in company_blocks(key)
    )


def company_match(key: str) -> str:
    """The first of `company_matches`; "" for an empty key."""
    matches = company_matches(key)
    return matches[0] if matches else ""


def company_match_other(key: str) -> str:
    """The second of `company_matches`; "" when there is one or none."""
    matches = company_matches(key)
    return matches[1] if len(matches) > 1 else ""


# The shortest word, and the fewest distinct consonants (its first letter
# counted), that give a typo block: a word of up to BLOCK_PREFIX letters is
# its prefix block whole, a typo in one that short leaves it far below
# COMPANY_MATCH_SCORE, and fewer consonants ("audi", "aiea") would gather
# every such name with that first letter.
TYPO_BLOCK_LETTERS = BLOCK_PREFIX + 1
TYPO_BLOCK_CONSONANTS = 3
_VOWELS = frozenset("aeiouy")


def company_typo_match(key: str) -> str:
    """A third match key of a company key, for names whose every
    distinctive word is misspelt in its first `BLOCK_PREFIX` letters, which
    share no block (`company_blocks`): "Simens" and "Siemens", "Mircosoft"
    and "Microsoft". Its first distinctive word (in the name's order, as
    `company_blocks` picks them) as its first letter and the set of its
    other consonants, sorted, with the name's numbers as `company_matches`
    adds them ("Simens 2" and "Siemens 2" give "s:mn 2"): swapped, doubled,
    dropped or wrong vowels leave it alike. "" for a word shorter than
    `TYPO_BLOCK_LETTERS` or with fewer than `TYPO_BLOCK_CONSONANTS`
    consonants ("SAP", "IBM").

    It never joins: it meets firms whose names differ by a vowel
    ("Mertens", "Martens") as well, so what it alone finds is shown on a
    lead's page for a person to merge (`similar`). The first letter and the
    consonants keep its blocks as small as the prefix blocks' (see
    docs/leads.md for the count on the shared data)."""
    words = [w for w in key.split() if not w.isdigit()] or key.split()
    distinctive = [w for w in words if w not in GENERIC_WORDS] or words
    if not distinctive:
        return ""
    word = distinctive[0]
    if len(word) < TYPO_BLOCK_LETTERS:
        return ""
    consonants = sorted(
        {ch for ch in word[1:] if ch.isalpha() and ch not in _VOWELS} - {word[0]}
    )
    if len(consonants) + 1 < TYPO_BLOCK_CONSONANTS:
        return ""
    block = f"{word[0]}:{''.join(consonants)}"
    return " ".join([block, *_NUMBERS.findall(key)])[:COMPANY_MATCH_LENGTH]


def same_company(a: str, b: str) -> bool:
    """Whether two company keys name one company for de-duplication: the
    same key, or the same words in another order ("schmidt consulting",
    "consulting schmidt"), which `company_score` scores 100. Keys alike
    only by a letter or two are not: "Kaiser Bau" and "Keiser Bau",
    "Schmidt" and "Schmitt" are as often two firms as one misspelt
    (`similar`)."""
    if not a or not b:
        return False
    return a == b or sorted(a.split()) == sorted(b.split())


def company_score(a: str, b: str) -> float:
    """Similarity of two company keys, 0 to 100 (word order does not matter).

    Names whose numbers differ ("Studio 1" and "Studio 10", "3M" and "4M")
    score 0: one changed digit is a small edit but a different company.
    """
    if not a or not b:
        return 0.0
    if _NUMBERS.findall(a) != _NUMBERS.findall(b):
        return 0.0
    return fuzz.token_sort_ratio(a, b)
