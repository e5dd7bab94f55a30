"""A labelled corpus of synthetic PII and near-misses for the local detector, and its scoring.

Every value is generated (seeded), never real: card numbers with a valid Luhn digit, IBANs with
valid mod-97 digits, and so on. Each entity gets positives (a value in a sentence, labelled with
its span) and near-misses: the same shape with a wrong check digit when the entity has a
checksum ("checksum" near-misses, which must never be reported), or a look-alike that is not
PII (a version number, an order id, a hex digest).

`python -m tests.data.pii_corpus` prints precision and recall per entity (the README's table).
"""

from __future__ import annotations

import random
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from stdnum import iban as stdnum_iban
from stdnum import luhn, verhoeff
from stdnum.us import rtn

from app.pii.checks import _VIN_VALUES, _VIN_WEIGHTS
from app.pii.local import LocalDetector


@dataclass(frozen=True)
class Sample:
    text: str
    entity: str  # the entity of the labelled value, or of the near-miss
    span: tuple[int, int] | None  # the value's span; None for a near-miss
    checksum: bool = False  # a near-miss that differs from a real value by its check digit


Gen = Callable[[random.Random], str]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _upper(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


def _wrong_last(value: str) -> str:
    """The value with its last digit changed: a wrong check digit."""
    last = value[-1]
    return value[:-1] + str((int(last) + 1 + (int(last) % 3)) % 10)


def card(rng: random.Random) -> str:
    body = rng.choice(["4", "51", "55", "37", "6011"]) + ""
    length = 15 if body == "37" else 16
    body += _digits(rng, length - len(body) - 1)
    number = body + luhn.calc_check_digit(body)
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def iban(rng: random.Random) -> str:
    country, bban = rng.choice([("DE", lambda: _digits(rng, 18)), ("GB", lambda: "NWBK" + _digits(rng, 14)),
                                ("FR", lambda: _digits(rng, 23))])  # fmt: skip
    bban = bban()
    number = next(
        n for n in (f"{country}{c:02d}{bban}" for c in range(2, 99)) if stdnum_iban.is_valid(n)
    )
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def aba(rng: random.Random) -> str:
    body = rng.choice(["0", "1", "2", "3"]) + _digits(rng, 7)
    return body + rtn.calc_check_digit(body)


def ssn(rng: random.Random) -> str:
    return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def itin(rng: random.Random) -> str:
    return f"9{_digits(rng, 2)}-{rng.choice([70, 75, 80, 88, 90, 94])}-{_digits(rng, 4)}"


def sin(rng: random.Random) -> str:
    body = str(rng.randint(1, 7)) + _digits(rng, 7)
    number = body + luhn.calc_check_digit(body)
    return f"{number[:3]} {number[3:6]} {number[6:]}"


def nhs(rng: random.Random) -> str:
    while True:
        body = _digits(rng, 9)
        check = (
            11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
        ) % 11
        if check != 10:
            number = body + str(check)
            return f"{number[:3]} {number[3:6]} {number[6:]}"


def utr(rng: random.Random) -> str:
    from stdnum.gb import utr as utr_module

    body = _digits(rng, 9)
    return utr_module.calc_check_digit(body) + body


def aadhaar(rng: random.Random) -> str:
    while True:
        body = str(rng.randint(2, 9)) + _digits(rng, 10)
        number = body + verhoeff.calc_check_digit(body)
        if number != number[::-1]:  # stdnum refuses palindromes
            return f"{number[:4]} {number[4:8]} {number[8:]}"


def epic(rng: random.Random) -> str:
    body = _digits(rng, 6)
    return _upper(rng, 3) + body + luhn.calc_check_digit(body)


def pan(rng: random.Random) -> str:
    return (
        _upper(rng, 3)
        + rng.choice("PCHFAT")
        + _upper(rng, 1)
        + f"{rng.randint(1, 9999):04d}"
        + _upper(rng, 1)
    )


def vin(rng: random.Random) -> str:
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    while True:
        chars = [rng.choice(alphabet) for _ in range(17)]
        chars[8] = "0"
        total = sum(_VIN_VALUES[c] * w for c, w in zip(chars, _VIN_WEIGHTS, strict=True))
        chars[8] = "X" if total % 11 == 10 else str(total % 11)
        if any(c.isalpha() for c in chars):
            return "".join(chars)


def _bad_iban(rng: random.Random) -> str:
    value = iban(rng)
    check = int(value[2:4])
    return value[:2] + f"{(check + 1) % 97 + 2:02d}" + value[4:]


def _bad_utr(rng: random.Random) -> str:
    value = utr(rng)
    return str((int(value[0]) + 1) % 10) + value[1:]


def _bad_vin(rng: random.Random) -> str:
    value = vin(rng)
    wrong = "0" if value[8] != "0" else "1"
    return value[:8] + wrong + value[9:]


def phone(rng: random.Random) -> str:
    area = rng.choice([212, 415, 617, 312, 646, 202])
    line = f"{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
    return rng.choice([f"({area}) {line}", f"{area}-{line}", f"+1 {area} {line.replace('-', ' ')}",
                       f"+44 20 7946 {rng.randint(0, 999):04d}"])  # fmt: skip


def email(rng: random.Random) -> str:
    user = rng.choice(["jane.doe", "j_smith", "ops+alerts", "k.lee"]) + str(rng.randint(1, 99))
    return f"{user}@{rng.choice(['example.com', 'mail.example.org', 'corp.example.co.uk'])}"


def ipv4(rng: random.Random) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(0, 65535):x}" for _ in range(6)]
    return rng.choice(["2001:db8:" + ":".join(groups), "2001:db8::" + ":".join(groups[:2]),
                       f"fe80::{groups[0]}:{groups[1]}"])  # fmt: skip


def mac(rng: random.Random) -> str:
    sep = rng.choice([":", "-"])
    return sep.join(f"{rng.randint(0, 255):02X}" for _ in range(6))


def url(rng: random.Random) -> str:
    return (
        rng.choice(["https", "http"])
        + f"://{rng.choice(['example.com', 'docs.example.org'])}/p/{rng.randint(1, 999)}?q=a"
    )


def aws_access(rng: random.Random) -> str:
    return rng.choice(["AKIA", "ASIA"]) + "".join(
        rng.choice(string.ascii_uppercase + "234567") for _ in range(16)
    )


def aws_secret(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "/+"
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(40))
        if (
            any(c.isupper() for c in value)
            and any(c.islower() for c in value)
            and any(c.isdigit() for c in value)
        ):
            return value


def date(rng: random.Random) -> str:
    y, m, d = rng.randint(1950, 2030), rng.randint(1, 12), rng.randint(1, 28)
    months = ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"]  # fmt: skip
    return rng.choice([f"{y}-{m:02d}-{d:02d}", f"{m:02d}/{d:02d}/{y}", f"{months[m - 1]} {d}, {y}",
                       f"{d} {months[m - 1][:3]} {y}"])  # fmt: skip


def nino(rng: random.Random) -> str:
    return (
        rng.choice(["AB", "CE", "JK", "PR", "WX"])
        + f" {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} "
        + rng.choice("ABCD")
    )


def bic(rng: random.Random) -> str:
    return (
        _upper(rng, 4)
        + rng.choice(["DE", "GB", "FR", "US", "IN"])
        + _upper(rng, 2)
        + rng.choice(["", "XXX"])
    )


# entity -> (value generator, sentence with {v}, near-miss generator, near-miss sentence, checksum)
SPECS: dict[str, tuple[Gen, str, Gen, str, bool]] = {
    "credit_debit_number": (card, "Charge my card {v} please.", lambda r: _wrong_last(card(r)), "Charge card {v} please.", True),
    "international_bank_account_number": (iban, "Wire it to {v} today.", _bad_iban, "Wire it to {v} today.", True),
    "bank_routing": (aba, "Routing number {v} for the transfer.", lambda r: _wrong_last(aba(r)), "Routing number {v} for the transfer.", True),
    "ssn": (ssn, "My SSN is {v}.", lambda r: f"{r.choice(['000', '666'])}-{_digits(r, 2)}-{_digits(r, 4)}", "Ticket {v} is closed.", True),
    "us_individual_tax_identification_number": (itin, "File under ITIN {v}.", lambda r: f"9{_digits(r, 2)}-{r.choice([10, 45, 66, 93])}-{_digits(r, 4)}", "Code {v} applies.", True),
    "ca_social_insurance_number": (sin, "SIN {v} on file.", lambda r: _wrong_last(sin(r)), "Reference {v} on file.", True),
    "uk_national_health_service_number": (nhs, "NHS number {v} for the visit.", lambda r: _wrong_last(nhs(r)), "NHS number {v} for the visit.", True),
    "uk_unique_taxpayer_reference_number": (utr, "My UTR is {v}.", _bad_utr, "My UTR is {v}.", True),
    "in_aadhaar": (aadhaar, "Aadhaar {v} attached.", lambda r: _wrong_last(aadhaar(r)), "Aadhaar {v} attached.", True),
    "in_voter_number": (epic, "Voter ID {v} verified.", lambda r: _wrong_last(epic(r)), "Voter ID {v} verified.", True),
    "in_permanent_account_number": (pan, "PAN {v} linked.", lambda r: _upper(r, 3) + "Q" + _upper(r, 1) + _digits(r, 4) + _upper(r, 1), "Batch {v} linked.", False),
    "vehicle_identification_number": (vin, "The VIN is {v}.", _bad_vin, "Part {v} ordered.", True),
    "phone": (phone, "Call me at {v} tomorrow.", lambda r: f"{r.randint(100, 199)}-{r.randint(100, 999)}-{_digits(r, 4)}", "Order {v} shipped.", True),
    "email": (email, "Write to {v} for access.", lambda r: f"{r.choice(['jane', 'ops'])}@localhost", "Ping {v} now.", False),
    "ip_address": (lambda r: ipv4(r) if r.random() < 0.5 else ipv6(r), "The host {v} is down.", lambda r: f"{r.randint(256, 999)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(0, 255)}", "Version {v} released.", True),
    "mac_address": (mac, "Device {v} joined.", lambda r: ":".join(f"{r.randint(0, 255):02X}" for _ in range(5)), "Device {v} joined.", False),
    "url": (url, "See {v} for details.", lambda r: f"example dot com slash {r.randint(1, 99)}", "See {v} for details.", False),
    "aws_access_key": (aws_access, "key id {v} leaked", lambda r: "AKIB" + _upper(r, 16), "key id {v} leaked", False),
    "aws_secret_key": (aws_secret, "secret {v} leaked", lambda r: "".join(r.choice("0123456789abcdef") for _ in range(40)), "commit {v} merged", False),
    "date_time": (date, "Born on {v} in Ohio.", lambda r: f"{r.randint(2000, 2030)}-{r.choice([2, 4, 6])}{r.choice([0, 1, 3])}-3{r.randint(2, 9)}", "Build {v} failed.", True),
    "uk_national_insurance_number": (nino, "NI number {v} noted.", lambda r: r.choice(["GB", "BG", "NK"]) + f" {_digits(r, 2)} {_digits(r, 2)} {_digits(r, 2)} A", "Code {v} noted.", False),
    "swift_code": (bic, "SWIFT code {v} for the wire.", lambda r: _upper(r, 4) + "QQ" + _upper(r, 2), "SWIFT code {v} for the wire.", True),
    "credit_debit_cvv": (lambda r: _digits(r, 3), "CVV {v} on the back.", lambda r: _digits(r, 3), "Room {v} on the left.", False),
    "credit_debit_expiry": (lambda r: f"{r.randint(1, 12):02d}/{r.randint(25, 32)}", "Expiry {v} on the card.", lambda r: f"{r.randint(1, 12):02d}/{r.randint(25, 32)}", "Ratio {v} on the chart.", False),
    "passport_number": (lambda r: _upper(r, 1) + _digits(r, 8), "Passport number {v} expires soon.", lambda r: _upper(r, 1) + _digits(r, 8), "Invoice {v} expires soon.", False),
    "driver_id": (lambda r: _upper(r, 1) + _digits(r, 7), "Driver's license {v} suspended.", lambda r: _upper(r, 1) + _digits(r, 7), "Shipment {v} delayed.", False),
    "pin": (lambda r: _digits(r, 4), "My PIN is {v}.", lambda r: _digits(r, 4), "Gate {v} is open.", False),
    "password": (lambda r: _upper(r, 2) + _digits(r, 3) + "x!q", "password: {v}", lambda r: _upper(r, 2) + _digits(r, 3), "product: {v}", False),
    "username": (lambda r: "user_" + _digits(r, 4), "username: {v}", lambda r: "user_" + _digits(r, 4), "filename: {v}", False),
    "in_nrega": (lambda r: f"UP-{_digits(r, 2)}-{_digits(r, 3)}-{_digits(r, 3)}-{_digits(r, 3)}/{_digits(r, 3)}", "Job card {v} issued.", lambda r: f"UP-{_digits(r, 2)}-{_digits(r, 3)}-{_digits(r, 3)}", "Job card {v} issued.", False),
    "ca_health_number": (lambda r: f"{_digits(r, 4)}-{_digits(r, 3)}-{_digits(r, 3)}", "Health card number {v} renewed.", lambda r: f"{_digits(r, 4)}-{_digits(r, 3)}-{_digits(r, 3)}", "Tracking {v} renewed.", False),
    "bank_account_number": (lambda r: _digits(r, 10), "Account number {v} credited.", lambda r: _digits(r, 10), "Shipment {v} credited.", False),
}  # fmt: skip


# More ways to write a value: other sentences, and other spellings of the same value.
EXTRA_SENTENCES: dict[str, list[str]] = {
    "credit_debit_number": ["card: {v}", "{v} is the Visa I use"],
    "phone": ["Phone: {v}.", "text {v} when you land"],
    "email": ["<{v}>", "mail {v}, thanks"],
    "url": ["Docs: {v}.", "({v})"],
    "ssn": ["SSN: {v}", "ssn {v} on the form"],
    "date_time": ["Due {v}.", "{v}: kickoff"],
    "ip_address": ["ping {v}", "from {v}, port 22"],
    "international_bank_account_number": ["IBAN: {v}", "{v} (main account)"],
}
SPELLINGS: dict[str, Callable[[str], str]] = {
    "credit_debit_number": lambda v: v.replace(" ", "-"),
    "international_bank_account_number": lambda v: v.replace(" ", ""),
    "in_aadhaar": lambda v: v.replace(" ", ""),
    "ca_social_insurance_number": lambda v: v.replace(" ", "-"),
}
# Sentences with numbers and codes that are none of the entities; any finding in them is wrong.
NOISE = [
    "Version 3.2.1 shipped on time.",
    "Order #123456 has 3 items.",
    "We sold 1,234,567 units.",
    "The 2024 budget is 45000 USD.",
    "Listen on port 8080.",
    "Build 20240115 passed.",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "id 123e4567-e89b-12d3-a456-426614174000",
    "ISBN 978-3-16-148410-0",
    "It ran at 12:30:45 for 90 minutes.",
    "Score: 98.6 out of 100.",
    "Use a 16:9 ratio and 4:3 for print.",
    "Room 4B, floor 12.",
    "Temperature 37.5 C.",
    "HEADLINE NEWS TODAY",
    "Chapter 11 section 4.2.7",
    "Pi is 3.14159265358979.",
]


def corpus(per_entity: int = 50, seed: int = 14) -> list[Sample]:
    rng = random.Random(seed)
    samples: list[Sample] = []
    for entity, (make, sentence, near, near_sentence, checksum) in SPECS.items():
        sentences = [sentence, *EXTRA_SENTENCES.get(entity, [])]
        for i in range(per_entity):
            value = make(rng)
            if entity in SPELLINGS and i % 2:
                value = SPELLINGS[entity](value)
            template = sentences[i % len(sentences)]
            prefix = template.index("{v}")
            samples.append(Sample(template.format(v=value), entity, (prefix, prefix + len(value))))
            samples.append(Sample(near_sentence.format(v=near(rng)), entity, None, checksum))
    samples += [Sample(text, "", None) for text in NOISE]
    return samples


def score(
    samples: list[Sample], detector: LocalDetector | None = None
) -> dict[str, dict[str, float]]:
    """Per entity: tp, fp, fn, precision and recall, with every local entity asked for at once.
    A finding is a true positive when it is the labelled entity and overlaps the labelled span;
    every other finding is a false positive of its own entity (an NHS number also read as a
    phone number counts against phone)."""
    detector = detector or LocalDetector()
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for sample in samples:
        [found] = detector.detect([sample.text], detector.entities)
        hits = [f for f in found if f.entity == sample.entity and sample.span
                and f.start < sample.span[1] and sample.span[0] < f.end]  # fmt: skip
        if sample.span is not None:
            tp[sample.entity] += 1 if hits else 0
            fn[sample.entity] += 0 if hits else 1
        for finding in found:
            if finding not in hits:
                fp[finding.entity] += 1
    table = {}
    for entity in SPECS:
        t, f, n = tp[entity], fp[entity], fn[entity]
        table[entity] = {"tp": t, "fp": f, "fn": n, "precision": t / (t + f) if t + f else 1.0,
                         "recall": t / (t + n) if t + n else 1.0}  # fmt: skip
    return table


def main() -> None:
    table = score(corpus())
    print("| entity | precision | recall | checksum |")
    print("|---|---|---|---|")
    for entity, row in sorted(table.items()):
        checked = "yes" if SPECS[entity][4] else ""
        print(f"| {entity} | {row['precision']:.2f} | {row['recall']:.2f} | {checked} |")


if __name__ == "__main__":
    main()
