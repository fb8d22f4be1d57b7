"""Attention loss (TinyBERT): the student's attention maps imitate mapped teacher layers'.

For student layer :math:`m \\ge 1` and teacher layer :math:`g(m)`, with :math:`A` the
``(batch, heads, length, length)`` attention probabilities and the mean over heads and real
query tokens,

.. math:: \\mathcal{L} = \\sum_{m=1}^{M} \\mathrm{MSE}\\big(A^S_m, A^T_{g(m)}\\big)

TinyBERT matches the pre-softmax scores; Hugging Face models expose the probabilities, which
carry the same information with padding masked to exactly zero.
"""

from collections.abc import Sequence

import torch


def attention_mse(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor], mapping: Sequence[int],
                  mask: torch.Tensor) -> torch.Tensor:
    """Sum over student layers (1-based in ``mapping``, index ``m-1`` in the lists) of masked attention MSE."""
    rows = mask[:, None, :, None].to(student[0].dtype)  # only real query positions
    total = student[0].new_zeros(())
    for m in range(1, len(mapping)):
        s, t = student[m - 1], teacher[mapping[m] - 1]
        if s.shape[1] != t.shape[1]:
            raise ValueError(f"attention loss needs equal head counts, student {s.shape[1]} vs teacher {t.shape[1]}")
        total = total + (((s - t) ** 2) * rows).sum() / (rows.sum() * s.shape[1] * s.shape[-1])
    return total
