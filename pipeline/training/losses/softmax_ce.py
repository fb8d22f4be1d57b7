"""Softmax cross-entropy over a group (the default ranking loss; "localised contrastive estimation").

For a group of scores :math:`s_0, \\dots, s_n` where passage 0 is relevant:

.. math:: \\mathcal{L} = -\\log \\frac{e^{s_0}}{\\sum_{j=0}^{n} e^{s_j}}

averaged over the groups of the batch.
"""

import torch
import torch.nn.functional as F  # noqa: N812


def softmax_ce(scores: torch.Tensor) -> torch.Tensor:
    """Mean over groups of ``-log softmax(scores)[0]``; ``scores`` is ``(groups, n)``."""
    return F.cross_entropy(scores, torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device))
