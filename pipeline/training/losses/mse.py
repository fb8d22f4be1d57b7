"""Mean squared error between student and teacher scores (score regression).

.. math:: \\mathcal{L} = \\frac{1}{G(n+1)} \\sum_{g,j} (s_{gj} - t_{gj})^2
"""

import torch
import torch.nn.functional as F  # noqa: N812


def mse(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Mean of ``(student - teacher)²`` over every pair (``temperature`` is unused, for a common signature)."""
    return F.mse_loss(student, teacher)
