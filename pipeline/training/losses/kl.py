"""KL divergence between the teacher's and the student's distributions over a group (Hinton et al.).

With temperature :math:`T`, :math:`p = \\mathrm{softmax}(t / T)` from the teacher's scores and
:math:`q = \\mathrm{softmax}(s / T)` from the student's,

.. math:: \\mathcal{L} = T^2 \\cdot \\frac{1}{G} \\sum_g \\sum_j p_{gj} (\\log p_{gj} - \\log q_{gj})

The :math:`T^2` factor keeps gradient sizes comparable across temperatures.
"""

import torch
import torch.nn.functional as F  # noqa: N812


def kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``T² · KL(softmax(teacher/T) ‖ softmax(student/T))``, averaged over groups."""
    log_q = F.log_softmax(student / temperature, dim=-1)
    log_p = F.log_softmax(teacher / temperature, dim=-1)
    return F.kl_div(log_q, log_p, log_target=True, reduction="batchmean") * temperature ** 2
