"""NDC normalisation and the tokenizer (the shared rules of sync and API)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ppstack.serving.keys import (
    QueryWord,
    normalize_ndc,
    parse_rank_sk,
    query_words,
    rank_sk,
    tokenize,
)

digits = st.text(alphabet="0123456789", min_size=1, max_size=6)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0002-3227-30", "00002322730"),  # 4-4-2
        ("50090-347-0", None),  # 5-3-1 is not an NDC shape
        ("50090-347-01", "50090034701"),  # 5-3-2
        ("68788-9890-1", "68788989001"),  # 5-4-1
        ("00002-3227-30", "00002322730"),  # 5-4-2 (already 11 digits)
        ("00002322730", "00002322730"),
        ("0002322730", None),  # 10 bare digits: shape unknown, refused
        ("0002-3227-3a", None),
        ("", None),
    ],
)
def test_normalize_ndc_cases(raw: str, expected: str | None) -> None:
    assert normalize_ndc(raw) == expected


@given(a=digits, b=digits, c=digits)
def test_normalize_ndc_property(a: str, b: str, c: str) -> None:
    shape = (len(a), len(b), len(c))
    result = normalize_ndc(f"{a}-{b}-{c}")
    if shape in {(4, 4, 2), (5, 3, 2), (5, 4, 1), (5, 4, 2)}:
        assert result is not None and len(result) == 11 and result.isdigit()
        # Padding inserts exactly one zero in front of the short segment.
        assert result == a.zfill(5) + b.zfill(4) + c.zfill(2)
    else:
        assert result is None


def test_tokenize_folds_and_drops_stop_words() -> None:
    assert tokenize("ALK-Abelló A/S and the Strattera 10 mg") == [
        "alk", "abello", "strattera", "10", "mg"
    ]
    assert tokenize(None) == []


def test_normalize_ndc_refuses_non_ascii_digits() -> None:
    # Arabic-Indic digits are \d in Python's re but not [0-9] in the staging SQL.
    assert normalize_ndc("٠٠٠٢-٣٢٢٧-٣٠") is None
    assert normalize_ndc("0002-3227-3\u0661") is None


@pytest.mark.parametrize(("text", "tokens"), [
    ("10 mg/1; 12.5 mg/1", ["10", "mg", "12.5"]),
    ("0.125 mg/1", ["0.125", "mg"]),
    ("2.50 mg/5mL", ["2.5", "mg", "5", "ml"]),
    ("100 [iU]/mL", ["100", "iu", "ml"]),
    ("Vitamin B12 1000", ["vitamin", "b12", "1000"]),
    ("INJECTION, SOLUTION", ["injection", "solution"]),
    ("1/2 strength", ["1", "2", "strength"]),
])
def test_tokenize_keeps_numbers_whole_and_units_as_words(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_query_words_scope_prefix_and_glued_units() -> None:
    assert query_words("labeler:lilly atomox* 10mg 2.5") == [
        QueryWord("lilly", False, "labeler"), QueryWord("atomox", True),
        QueryWord("10", False), QueryWord("mg", False), QueryWord("2.5", False)]
    assert query_words("name:tylenol-pm") == [
        QueryWord("tylenol", False, "name"), QueryWord("pm", False, "name")]
    assert query_words("*") == [QueryWord("", True)]


def test_rank_sort_key_orders_by_tier_then_name_length_then_id() -> None:
    keys = [rank_sk("x", 2, 1, "DRUG", "00000000001"), rank_sk("x", 0, 12, "DRUG", "00000000002"),
            rank_sk("x", 0, 3, "DRUG", "00000000003"), rank_sk("x", 0, 3, "DRUG", "00000000000")]
    assert [parse_rank_sk(k)[1:] for k in sorted(keys)] == [
        (0, 3, "00000000000"), (0, 3, "00000000003"), (0, 12, "00000000002"),
        (2, 1, "00000000001")]
