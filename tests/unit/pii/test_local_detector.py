"""The local detector on the labelled corpus (tests/data/pii_corpus.py) and on the cases that
are easy to get wrong: offsets in non-ASCII text, trailing punctuation, numbers inside numbers."""

from __future__ import annotations

import pytest

from app.pii.base import Finding
from app.pii.local import LocalDetector
from app.pii.patterns import CLOUD_ONLY
from tests.data.pii_corpus import SPECS, corpus, score

DETECTOR = LocalDetector()
CORPUS = corpus()


def test_no_near_miss_with_a_checksum_is_reported():
    for sample in (s for s in CORPUS if s.checksum):
        [found] = DETECTOR.detect([sample.text], frozenset({sample.entity}))
        assert found == [], sample.text


@pytest.mark.parametrize("entity", sorted(SPECS))
def test_precision_and_recall_on_the_corpus(entity):
    row = score(CORPUS, DETECTOR)[entity]
    assert row["recall"] >= 0.95 and row["precision"] >= 0.95, row


def test_every_pattern_entity_is_local_and_the_rest_are_cloud_only():
    from app.domain.policies import ALL, ENTITIES

    assert DETECTOR.entities | CLOUD_ONLY == set(ENTITIES) - {ALL}
    assert not DETECTOR.entities & CLOUD_ONLY


def find(text, *entities):
    [found] = DETECTOR.detect([text], frozenset(entities or DETECTOR.entities))
    return [(f.entity, text[f.start : f.end]) for f in found]


def test_offsets_are_characters_in_non_ascii_text():
    text = "Grüße — schreib an jurgen@example.com oder ruf 415-555-2671 an ☎"
    assert find(text, "email", "phone") == [
        ("email", "jurgen@example.com"),
        ("phone", "415-555-2671"),
    ]


def test_a_sentence_end_is_not_part_of_a_url():
    assert find("Read https://example.com/a?b=1.", "url") == [("url", "https://example.com/a?b=1")]


def test_a_piece_of_a_longer_number_is_not_reported():
    card = "4111 1111 1111 1111"
    assert find(f"card {card}", "in_aadhaar", "credit_debit_number") == [
        ("credit_debit_number", card)
    ]
    assert find("Job card UP-98-116-525-577/361", "ca_social_insurance_number") == []


def test_clean_text_finds_nothing():
    assert DETECTOR.detect(
        ["The weather is nice; see chapter 4.2 on page 17."], DETECTOR.entities
    ) == [[]]


def test_only_the_asked_entities_are_reported():
    assert DETECTOR.detect(["mail a@b.co from 10.0.0.1"], frozenset({"ip_address"})) == [
        [Finding(17, 25, "ip_address")]
    ]
