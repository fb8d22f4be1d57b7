"""Training losses, one per module, each with its maths in the docstring.

Score losses take ``(groups, n)`` tensors whose column 0 is the relevant passage; layer losses
take lists of per-layer tensors and the layer mapping.
"""

from pipeline.training.losses.attention_mse import attention_mse
from pipeline.training.losses.bce import bce
from pipeline.training.losses.hidden_mse import hidden_mse
from pipeline.training.losses.kl import kl
from pipeline.training.losses.margin_mse import margin_mse
from pipeline.training.losses.mse import mse
from pipeline.training.losses.softmax_ce import softmax_ce

LABEL_LOSSES = {"softmax-ce": softmax_ce, "bce": bce}
SCORE_LOSSES = {"kl": kl, "mse": mse, "margin-mse": margin_mse}

__all__ = ["LABEL_LOSSES", "SCORE_LOSSES", "attention_mse", "bce", "hidden_mse", "kl", "margin_mse", "mse",
           "softmax_ce"]
