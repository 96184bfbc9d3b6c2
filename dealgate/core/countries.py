"""The country codes of ISO 3166-1 alpha-2: the 249 assigned to a country or
territory, and no others.

Every door that reads a lead's country (intake, routing rules) checks it
here. The phone library's regions are not this list: they lack territories
without numbering of their own (AQ, BV, HM, TF, UM, GS, PN) and hold XK,
a code ISO has not assigned.

Source: the ISO 3166 Maintenance Agency's list of officially assigned
codes, as Debian's iso-codes ships it (data/iso_3166-1.json), read from
pycountry 26.2.16 (February 2026). The list changes about once in a few
years; a new code goes in here, with this paragraph's date.
"""

from __future__ import annotations

_CODES = """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV
CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD
GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM
IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK
LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW
MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR
PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS
ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY
UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""

ALPHA_2: frozenset[str] = frozenset(_CODES.split())


def is_assigned(code: str) -> bool:
    """True for an assigned ISO 3166-1 alpha-2 code, in upper case."""
    return code in ALPHA_2


def country_code(text: str) -> str:
    """`text` as an assigned ISO 3166-1 alpha-2 code in upper case ("de"
    gives "DE"); "" for an empty field. A country's name ("Germany"), an
    alpha-3 code or an unassigned code ("XK") is a ValueError naming the
    field and asking for the code."""
    value = text.strip()
    if not value:
        return ""
    code = value.upper()
    if not is_assigned(code):
        shown = value if len(value) <= 40 else value[:39] + "…"
        raise ValueError(
            f"country must be a two-letter ISO 3166 code such as DE or US, "
            f"not {shown!r}"
        )
    return code
