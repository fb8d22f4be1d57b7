"""Hidden-state loss (TinyBERT): the student's layers imitate mapped teacher layers.

With the uniform mapping :math:`g` (student layer :math:`m` ↔ teacher layer :math:`g(m)`, layer 0
being the embeddings), a learned projection :math:`W` when widths differ (identity otherwise) and
the mean over real (non-padding) tokens:

.. math:: \\mathcal{L} = \\sum_{m=0}^{M} \\mathrm{MSE}\\big(H^S_m W,\\; H^T_{g(m)}\\big)
"""

from collections.abc import Sequence

import torch


def hidden_mse(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor], mapping: Sequence[int],
               mask: torch.Tensor, projection: torch.nn.Module | None = None) -> torch.Tensor:
    """Sum over student layers ``m`` of the token-averaged MSE to teacher layer ``mapping[m]``.

    ``student``/``teacher`` hold ``(batch, length, width)`` hidden states, index 0 the embeddings;
    ``mask`` is the ``(batch, length)`` attention mask.
    """
    weights = mask.unsqueeze(-1).to(student[0].dtype)
    tokens = weights.sum()
    total = student[0].new_zeros(())
    for m, t in enumerate(mapping):
        h = projection(student[m]) if projection is not None else student[m]
        total = total + (((h - teacher[t]) ** 2) * weights).sum() / (tokens * h.shape[-1])
    return total
