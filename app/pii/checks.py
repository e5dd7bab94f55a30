"""Validators that turn a pattern's candidate into a finding: checksums and structure rules.

Each takes the matched text and answers whether it is a real instance. Checksums come from
python-stdnum (Luhn, IBAN mod 97, ABA routing, Verhoeff, NHS mod 11, UTR, PAN, EPIC, BIC),
phone numbers from phonenumbers (Google's libphonenumber metadata), addresses from the
standard library's ipaddress and datetime; the rest are short structure rules written here.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Callable

import phonenumbers
from stdnum import bic, iban, luhn
from stdnum.ca import sin
from stdnum.exceptions import ValidationError
from stdnum.gb import nhs, utr
from stdnum.in_ import aadhaar, epic, pan
from stdnum.us import itin, rtn, ssn

Check = Callable[[str], bool]

_CARD_PREFIXES = ("4", "51", "52", "53", "54", "55", "22", "23", "24", "25", "26", "27", "34",
                  "37", "6011", "65", "64", "35", "30", "36", "38", "39", "62")  # fmt: skip


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def stdnum_check(module: object) -> Check:
    """A check from a python-stdnum module's `validate`."""
    validate = module.validate  # type: ignore[attr-defined]

    def check(text: str) -> bool:
        try:
            validate(text)
        except (ValidationError, ValueError):
            return False
        return True

    return check


def card_number(text: str) -> bool:
    """13-19 digits, a known issuer prefix, and the Luhn checksum."""
    digits = _digits(text)
    if not 13 <= len(digits) <= 19 or not digits.startswith(_CARD_PREFIXES):
        return False
    return luhn.is_valid(digits)


def phone(text: str) -> bool:
    """A number libphonenumber calls valid: international with `+`, else as a US number."""
    if sum(c.isdigit() for c in text) < 7:
        return False
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else "US")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


_ORDINAL = re.compile(r"(\d)(st|nd|rd|th)\b", re.IGNORECASE)


def _parses(text: str, formats: tuple[str, ...]) -> bool:
    for fmt in formats:
        try:
            datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
        return True
    return False


def iso_date(text: str) -> bool:
    """An ISO 8601 date (or date-time, judged by its date) that exists: 2024-02-30 does not."""
    return _parses(text[:10], ("%Y-%m-%d",))


def numeric_date(text: str) -> bool:
    """dd/mm/yyyy, mm/dd/yyyy, dd.mm.yy...: some reading of it is a real date."""
    core = text.replace(".", "/")
    return _parses(core, ("%m/%d/%Y", "%d/%m/%Y") if len(core) > 8 else ("%m/%d/%y", "%d/%m/%y"))


def named_date(text: str) -> bool:
    """ "March 3rd, 2023", "3 Mar. 2023": a real date with the month written out."""
    core = " ".join(_ORDINAL.sub(r"\1", text).replace(",", " ").replace(".", " ").split())
    if core[0].isdigit():
        return _parses(core, ("%d %B %Y", "%d %b %Y"))
    return _parses(core, ("%B %d %Y", "%b %d %Y"))


def aws_secret(text: str) -> bool:
    """40 base64 characters mixing upper, lower and digits (a hex digest has no upper case)."""
    return (
        len(text) == 40
        and any(c.isupper() for c in text)
        and any(c.islower() for c in text)
        and any(c.isdigit() for c in text)
    )


_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def nino(text: str) -> bool:
    """UK National Insurance number: two letters (not a withheld pair), six digits, A-D."""
    compact = text.replace(" ", "").upper()
    return compact[:2] not in _NINO_BAD_PREFIXES


_VIN_VALUES = {**{str(d): d for d in range(10)},
               **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
               **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
               **dict(zip("STUVWXYZ", range(2, 10), strict=True))}  # fmt: skip
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin(text: str) -> bool:
    """ISO 3779 with the North American check digit (position 9), and at least a letter."""
    text = text.upper()
    if len(text) != 17 or text.isdigit():
        return False
    total = sum(_VIN_VALUES[c] * w for c, w in zip(text, _VIN_WEIGHTS, strict=True))
    expected = "X" if total % 11 == 10 else str(total % 11)
    return text[8] == expected


def has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def always(_: str) -> bool:
    return True


CHECKS: dict[str, Check] = {
    "iban": stdnum_check(iban),
    "aba": stdnum_check(rtn),
    "ssn": stdnum_check(ssn),
    "itin": stdnum_check(itin),
    "sin": stdnum_check(sin),
    "nhs": stdnum_check(nhs),
    "utr": stdnum_check(utr),
    "aadhaar": stdnum_check(aadhaar),
    "pan": stdnum_check(pan),
    "epic": stdnum_check(epic),
    "bic": stdnum_check(bic),
}
