"""Margin-MSE (Hofstätter et al., 2020): match the teacher's margins, not its raw scores.

For each negative :math:`j \\ge 1` of a group, the margin is the positive's score minus the
negative's:

.. math:: \\mathcal{L} = \\frac{1}{Gn} \\sum_g \\sum_{j=1}^{n} \\big((s_{g0} - s_{gj}) - (t_{g0} - t_{gj})\\big)^2

Scores may then differ from the teacher's by any per-group constant.
"""

import torch
import torch.nn.functional as F  # noqa: N812


def margin_mse(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """MSE between student and teacher margins ``s_0 - s_j`` (``temperature`` unused)."""
    return F.mse_loss(student[:, :1] - student[:, 1:], teacher[:, :1] - teacher[:, 1:])
