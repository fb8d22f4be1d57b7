"""Pointwise binary cross-entropy (monoBERT's loss): each pair is classified on its own.

Labels are :math:`y_0 = 1` for the relevant passage and :math:`y_j = 0` for the negatives; with
:math:`\\sigma` the logistic function,

.. math:: \\mathcal{L} = -\\frac{1}{G(n+1)} \\sum_{g,j} y_j \\log \\sigma(s_{gj}) + (1-y_j) \\log(1-\\sigma(s_{gj}))
"""

import torch
import torch.nn.functional as F  # noqa: N812


def bce(scores: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of every pair's logit against 1 (column 0) or 0 (the rest)."""
    labels = torch.zeros_like(scores)
    labels[:, 0] = 1.0
    return F.binary_cross_entropy_with_logits(scores, labels)
