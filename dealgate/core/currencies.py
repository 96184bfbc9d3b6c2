"""The currency codes of ISO 4217 in use (its "list one", as amended to 2025)
with their minor units, so that every door refuses a code no bank knows
("XYZ"), reads a code typed in lower case ("usd") as the code it means, and
refuses an amount written with more decimals than its currency has (yen have
none: "JPY 1000.50" is no amount).

Kept here rather than read from a package: Python has no such list, and one
table is smaller than a dependency. Left out: XTS (reserved for testing)
and XXX (no currency). Withdrawn codes (HRK, CUC, SLL) are refused; a code
withdrawn in a later amendment stays here until this list is brought up to date.
"""

from __future__ import annotations

from decimal import Decimal

from dealgate.core.text import counted
from dealgate.errors import ValidationError

# Each code with its minor unit, the decimals ISO 4217 writes its amounts
# with: "-" where the standard gives none (precious metals, bond market
# units, the SDR and other funds' units of account), so only the column's
# own places bound them. A string split once, so the 177 codes read as a table.
_MINOR_UNITS = """
AED 2  AFN 2  ALL 2  AMD 2  ANG 2  AOA 2  ARS 2  AUD 2  AWG 2  AZN 2
BAM 2  BBD 2  BDT 2  BGN 2  BHD 3  BIF 0  BMD 2  BND 2  BOB 2  BOV 2
BRL 2  BSD 2  BTN 2  BWP 2  BYN 2  BZD 2  CAD 2  CDF 2  CHE 2  CHF 2
CHW 2  CLF 4  CLP 0  CNY 2  COP 2  COU 2  CRC 2  CUP 2  CVE 2  CZK 2
DJF 0  DKK 2  DOP 2  DZD 2  EGP 2  ERN 2  ETB 2  EUR 2  FJD 2  FKP 2
GBP 2  GEL 2  GHS 2  GIP 2  GMD 2  GNF 0  GTQ 2  GYD 2  HKD 2  HNL 2
HTG 2  HUF 2  IDR 2  ILS 2  INR 2  IQD 3  IRR 2  ISK 0  JMD 2  JOD 3
JPY 0  KES 2  KGS 2  KHR 2  KMF 0  KPW 2  KRW 0  KWD 3  KYD 2  KZT 2
LAK 2  LBP 2  LKR 2  LRD 2  LSL 2  LYD 3  MAD 2  MDL 2  MGA 2  MKD 2
MMK 2  MNT 2  MOP 2  MRU 2  MUR 2  MVR 2  MWK 2  MXN 2  MXV 2  MYR 2
MZN 2  NAD 2  NGN 2  NIO 2  NOK 2  NPR 2  NZD 2  OMR 3  PAB 2  PEN 2
PGK 2  PHP 2  PKR 2  PLN 2  PYG 0  QAR 2  RON 2  RSD 2  RUB 2  RWF 0
SAR 2  SBD 2  SCR 2  SDG 2  SEK 2  SGD 2  SHP 2  SLE 2  SOS 2  SRD 2
SSP 2  STN 2  SVC 2  SYP 2  SZL 2  THB 2  TJS 2  TMT 2  TND 3  TOP 2
TRY 2  TTD 2  TWD 2  TZS 2  UAH 2  UGX 0  USD 2  USN 2  UYI 0  UYU 2
UYW 4  UZS 2  VED 2  VES 2  VND 0  VUV 0  WST 2  XAF 0  XAG -  XAU -
XBA -  XBB -  XBC -  XBD -  XCD 2  XCG 2  XDR -  XOF 0  XPD -  XPF 0
XPT -  XSU -  XUA -  YER 2  ZAR 2  ZMW 2  ZWG 2
"""
_PAIRS = _MINOR_UNITS.split()
MINOR_UNITS: dict[str, int | None] = {
    code: None if units == "-" else int(units)
    for code, units in zip(_PAIRS[::2], _PAIRS[1::2], strict=True)
}
ISO_4217 = frozenset(MINOR_UNITS)
# The decimals every amount is kept with (Deal.value is NUMERIC(14, 2)),
# whatever its currency's own.
STORED_PLACES = 2


def iso_currency(text: str) -> str | None:
    """`text` as the ISO 4217 code it names, upper-cased ("usd" -> "USD"),
    or None when it names none."""
    code = text.strip().upper()
    return code if code in ISO_4217 else None


def currency_problem(text: str) -> str | None:
    """What is wrong with a currency a person typed, asking for the code
    whatever it was ("Euro" is a name, not one letter too many); None when
    `iso_currency` reads it."""
    if iso_currency(text) is not None:
        return None
    shown = text.strip()
    shown = shown if len(shown) <= 40 else shown[:39] + "…"
    return f"must be a three-letter ISO 4217 code such as EUR, not {shown!r}"


def decimals_problem(amount: Decimal, code: str) -> str | None:
    """What is wrong with `amount` in the currency `code` (an ISO 4217 code),
    or None: an amount with more decimals than its currency has ("1000.50"
    in JPY, which has none). Trailing zeros are no decimals: "1000.00" is
    1000 yen. Cheap when nothing is wrong, as an import asks once a row."""
    places = MINOR_UNITS.get(code)
    written = -amount.as_tuple().exponent
    if places is None or written <= places:
        return None
    if amount == amount.quantize(Decimal(1).scaleb(-places)):
        return None
    decimals = counted(written, "decimal place")
    return f"{amount} has {decimals}; {code} amounts have {places}"


def stored_problem(amount: Decimal, code: str) -> str | None:
    """What keeps `amount` in the currency `code` from being stored, or None:
    more decimals than the STORED_PLACES every amount is kept with, as for
    KWD and BHD, which ISO 4217 writes with 3 ("1.234"), and metals it
    writes with none. Trailing zeros are no decimals."""
    written = -amount.as_tuple().exponent
    if written <= STORED_PLACES or not amount.is_finite():
        return None
    if amount == amount.quantize(Decimal(1).scaleb(-STORED_PLACES)):
        return None
    places = MINOR_UNITS.get(code)
    has = "" if places is None else f" (ISO 4217 gives {code} {places})"
    return (
        f"{amount} has {written} decimal places; Dealgate keeps {code} amounts "
        f"with {STORED_PLACES}{has}"
    )


def amount_problem(amount: Decimal, code: str) -> str | None:
    """What is wrong with the decimals of `amount` in the currency `code`,
    or None: more than the currency has (`decimals_problem`), or than
    Dealgate stores (`stored_problem`), whichever is tighter. Cheap when
    nothing is wrong, as an import asks once a row."""
    places = MINOR_UNITS.get(code)
    if places is not None and places <= STORED_PLACES:
        return decimals_problem(amount, code)
    # The store holds fewer decimals than the currency has: the tighter rule.
    return stored_problem(amount, code)


def check_decimals(amount: Decimal | None, code: str, name: str = "value") -> None:
    """Refuse `amount` for the field `name` when it has more decimals than
    the currency `code` has, or than Dealgate stores (`amount_problem`); the
    ValidationError names the field, the currency and its decimals."""
    if amount is None:
        return
    problem = amount_problem(amount, code)
    if problem is not None:
        raise ValidationError(f"{name} {problem}", field=name)


def shown_places(code: str) -> int:
    """The decimals an amount in `code` is written with: its currency's own
    (none for JPY), at most the STORED_PLACES it is kept with (2 for KWD)."""
    places = MINOR_UNITS.get(code)
    return STORED_PLACES if places is None else min(places, STORED_PLACES)


def amount_in(amount: Decimal, code: str) -> Decimal:
    """`amount` with the decimals of `shown_places` ("1000.00" JPY is
    "1000"), or as it is when that would change it (a value stored before
    its currency's decimals were checked)."""
    written = amount.quantize(Decimal(1).scaleb(-shown_places(code)))
    return written if written == amount else amount
