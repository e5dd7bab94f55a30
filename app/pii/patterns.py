"""The local detector's patterns: one or more candidate regexes per entity, each with the check a
candidate must pass (`app/pii/checks.py`).

A pattern whose entity has no checksum and no distinctive shape (a PIN, a password, a passport
number) only matches after a keyword that names it ("PIN: 4921"); group 1 is then the value and
only the value is reported. Every pattern is linear-time (RE2 syntax: no backreferences, no
lookaround) and anchored on word boundaries so "x123456789y" is not a number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.pii import checks
from app.pii.checks import Check


@dataclass(frozen=True)
class Pattern:
    entity: str
    regex: str
    check: Check = checks.always
    group: int = 0  # 1: the value follows a keyword that the regex matches too
    trim: str = ""  # characters stripped from the end of a match (a URL's closing period)
    isolated: bool = False  # refused when part of a longer run of digit groups


def _after(keywords: str, value: str) -> str:
    """`value` (a group) right after one of `keywords` (case-insensitive), a few separators
    apart: "Passport No.: X1234567"."""
    return rf"(?i:\b(?:{keywords}))\b(?:\s*(?i:number|no\.?|num|#|code|id))?[\s:=#.\-]{{0,4}}(?:is\s+)?{value}"


_SEP = r"[ \-]"  # digit groups are written with spaces or dashes

_PATTERNS: tuple[Pattern, ...] = (
    Pattern("email", r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"),
    Pattern(
        "url",
        r"(?i)\b(?:https?|ftp)://[^\s<>\"'`]+|\bwww\.[a-z0-9\-]+(?:\.[a-z0-9\-]+)+[^\s<>\"'`]*",
        trim=".,;:!?)]}'\"",
    ),  # fmt: skip
    # International numbers start with +; others are read as North American (NANP) numbers.
    Pattern(
        "phone",
        r"\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{2,4}){2,4}\b",
        checks.phone,
    ),  # fmt: skip
    # Ten bare digits are as often an order or account number: only after a phone keyword.
    Pattern("phone", r"(?:\(\d{3}\)[ .\-]?|\b\d{3}[ .\-])\d{3}[ .\-]\d{4}\b", checks.phone),
    Pattern(
        "phone",
        _after(r"phone|tel|telephone|mobile|cell|call|text|fax", r"(\d{10})\b"),
        checks.phone,
        group=1,
    ),  # fmt: skip
    Pattern("credit_debit_number", rf"\b(?:\d{_SEP}?){{12,18}}\d\b", checks.card_number),
    Pattern(
        "credit_debit_cvv",
        _after("cvv2?|cvc2?|csc|cvn|card security code", r"(\d{3,4})\b"),
        group=1,
    ),  # fmt: skip
    Pattern(
        "credit_debit_expiry",
        _after(
            r"exp(?:iry|iration)?(?:\s+date)?|expires|valid\s+thru|good\s+thru",
            r"((?:0[1-9]|1[0-2])\s?/\s?(?:20)?\d{2})\b",
        ),
        group=1,
    ),  # fmt: skip
    Pattern(
        "date_time",
        r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+\-]\d{2}:?\d{2})?)?\b",
        checks.iso_date,
    ),  # fmt: skip
    Pattern("date_time", r"\b\d{1,2}[/.]\d{1,2}[/.](?:\d{4}|\d{2})\b", checks.numeric_date),
    Pattern(
        "date_time",
        r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4}\b",
        checks.named_date,
    ),  # fmt: skip
    Pattern(
        "date_time",
        r"(?i)\b\d{1,2}(?:st|nd|rd|th)? (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,? \d{4}\b",
        checks.named_date,
    ),  # fmt: skip
    Pattern("ip_address", r"\b(?:\d{1,3}\.){3}\d{1,3}\b", checks.ip_address),
    Pattern(
        "ip_address",
        r"(?i)(?:\b[0-9a-f]{1,4}|:)?(?::[0-9a-f]{0,4}){2,7}(?:%[a-z0-9]+)?",
        checks.ip_address,
    ),  # fmt: skip
    Pattern(
        "mac_address",
        r"(?i)\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b|\b[0-9a-f]{2}(?:-[0-9a-f]{2}){5}\b"
        r"|\b[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}\b",
    ),  # fmt: skip
    Pattern(
        "aws_access_key",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|AGPA)[A-Z0-9]{16}\b",
    ),
    Pattern(
        "aws_secret_key",
        r"(?:^|[^A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=])",
        checks.aws_secret,
        group=1,
    ),  # fmt: skip
    Pattern(
        "bank_routing",
        _after(r"routing|aba|rtn|transit", r"(\d{9})\b"),
        checks.CHECKS["aba"],
        group=1,
    ),  # fmt: skip
    Pattern(
        "bank_account_number", _after(r"(?:bank\s+)?account|acct|a/c", r"(\d{6,17})\b"), group=1
    ),  # fmt: skip
    Pattern("ssn", rf"\b\d{{3}}{_SEP}\d{{2}}{_SEP}\d{{4}}\b", checks.CHECKS["ssn"]),
    Pattern("ssn", _after(r"ssn|social\s+security", r"(\d{9})\b"), checks.CHECKS["ssn"], group=1),
    Pattern(
        "us_individual_tax_identification_number",
        rf"\b9\d{{2}}{_SEP}[5-9]\d{_SEP}\d{{4}}\b",
        checks.CHECKS["itin"],
    ),  # fmt: skip
    Pattern(
        "us_individual_tax_identification_number",
        _after(r"itin", r"(9\d{8})\b"),
        checks.CHECKS["itin"],
        group=1,
    ),  # fmt: skip
    Pattern(
        "ca_social_insurance_number",
        rf"\b\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{3}}\b",
        checks.CHECKS["sin"],
    ),  # fmt: skip
    Pattern(
        "ca_social_insurance_number",
        _after(r"sin|social\s+insurance", r"(\d{9})\b"),
        checks.CHECKS["sin"],
        group=1,
    ),  # fmt: skip
    Pattern(
        "ca_health_number",
        _after(
            r"health\s+(?:card|number|insurance)|ohip|phn|hcn",
            rf"(\d{{4}}{_SEP}?\d{{3}}{_SEP}?\d{{3}}(?:{_SEP}?[A-Za-z]{{2}})?)\b",
        ),
        group=1,
    ),  # fmt: skip
    Pattern(
        "uk_national_health_service_number",
        _after(r"nhs", rf"(\d{{3}}{_SEP}?\d{{3}}{_SEP}?\d{{4}})\b"),
        checks.CHECKS["nhs"],
        group=1,
    ),  # fmt: skip
    Pattern(
        "uk_national_insurance_number",
        r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
        checks.nino,
    ),
    Pattern(
        "uk_unique_taxpayer_reference_number",
        _after(r"utr|unique\s+taxpayer\s+reference|tax\s+reference", r"(\d{5} ?\d{5})\b"),
        checks.CHECKS["utr"],
        group=1,
    ),  # fmt: skip
    Pattern(
        "in_aadhaar", rf"\b[2-9]\d{{3}}{_SEP}?\d{{4}}{_SEP}?\d{{4}}\b", checks.CHECKS["aadhaar"]
    ),
    Pattern(
        "in_permanent_account_number",
        r"\b[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]\b",
        checks.CHECKS["pan"],
    ),  # fmt: skip
    Pattern("in_voter_number", r"\b[A-Z]{3}\d{7}\b", checks.CHECKS["epic"]),
    Pattern("in_nrega", r"\b[A-Z]{2}-\d{2}-\d{3}-\d{3}-\d{3}/\d{1,6}\b"),
    Pattern(
        "international_bank_account_number",
        r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
        checks.CHECKS["iban"],
    ),
    Pattern(
        "swift_code",
        _after(r"swift|bic", r"([A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)\b"),
        checks.CHECKS["bic"],
        group=1,
    ),  # fmt: skip
    Pattern(
        "passport_number", _after(r"passport", r"([A-Z0-9]{6,9})\b"), checks.has_digit, group=1
    ),
    Pattern(
        "driver_id",
        _after(
            r"driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|licen[cs]e|dl",
            r"([A-Z0-9][A-Z0-9\-]{4,19})\b",
        ),
        checks.has_digit,
        group=1,
    ),  # fmt: skip
    Pattern("vehicle_identification_number", r"\b[A-HJ-NPR-Z0-9]{17}\b", checks.vin),
    Pattern("pin", _after(r"pin", r"(\d{4,8})\b"), group=1),
    Pattern(
        "password",
        _after(r"password|passwd|pwd|passcode|passphrase", r"(\S{4,128})"),
        group=1,
        trim=".,;:!?)]}'\"",
    ),  # fmt: skip
    Pattern(
        "username",
        _after(r"user\s*name|login|user\s*id|handle", r"(@?[A-Za-z0-9._\-]{3,64})"),
        group=1,
        trim=".",
    ),  # fmt: skip
)

# Numbers written in digit groups: "116-525-577" inside the job card "UP-98-116-525-577/361" is
# not a SIN, and "5174 9706 6059" inside the card "5174 9706 6059 5741" not an Aadhaar number.
DIGIT_GROUPS = frozenset({"credit_debit_number", "ssn", "us_individual_tax_identification_number",
                           "ca_social_insurance_number", "in_aadhaar", "phone",
                           "uk_national_health_service_number"})  # fmt: skip
PATTERNS: tuple[Pattern, ...] = tuple(
    replace(p, isolated=p.entity in DIGIT_GROUPS) for p in _PATTERNS
)

# Entities a pattern cannot find: they need a language model (AWS Comprehend serves them).
CLOUD_ONLY: frozenset[str] = frozenset({"name", "address", "age", "license_plate"})
