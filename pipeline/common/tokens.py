"""What texts and pairs cost in tokens: the one rule that batching by length, a rerank's resumable
chunks, sharing work among ranks and sorting training groups all count with.
"""

from __future__ import annotations

from collections.abc import Sequence


def token_counts(tokenizer, texts: Sequence[str]) -> list[int]:
    """Tokens in each text alone (no special tokens): what a pair of them will cost to score or train."""
    return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False,
                                          return_attention_mask=False, verbose=False)["input_ids"]] if texts else []


def pair_tokens(query_tokens: int, passage_tokens: int, max_length: int) -> int:
    """Tokens of ``[CLS] q [SEP] p [SEP]`` after truncating the passage to ``max_length``."""
    return min(max_length, query_tokens + passage_tokens + 3)
