"""The currency codes of ISO 4217 in use (its "list one", as amended to 2025),
so that every door refuses a code no bank knows ("XYZ") and reads a code typed
in lower case ("usd") as the code it means.

Kept here rather than read from a package: Python has no such list, and one
frozen set is smaller than a dependency. Left out: XTS (reserved for testing)
and XXX (no currency). Withdrawn codes (HRK, CUC, SLL) are refused; a code
withdrawn in a later amendment stays here until this list is brought up to date.
"""

from __future__ import annotations

# A string split once, so the 177 codes read as a table.
_CODES = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB
BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP
CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ
GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR
MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC
SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS
VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT
XSU XUA YER ZAR ZMW ZWG
"""
ISO_4217 = frozenset(_CODES.split())


def iso_currency(text: str) -> str | None:
    """`text` as the ISO 4217 code it names, upper-cased ("usd" -> "USD"),
    or None when it names none."""
    code = text.strip().upper()
    return code if code in ISO_4217 else None
