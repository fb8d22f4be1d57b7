"""pipeline: BM25 candidates from Lucene, BERT cross-encoder reranking and its distillation.

Data flows one way: collection -> index -> candidates -> rerank -> run -> evaluation.
"""

import os

__version__ = "0.1.0"

# Intel MKL's strict reproducible mode, read when torch loads MKL: matrix products then give the
# same bits whatever the thread count (by default a 6x384 by 384x384 product differs between 1
# and 2 threads), so a run scored by 2 single-thread ranks equals one scored by 1 two-thread
# process, byte for byte. No measurable cost on the development CPU. A value you set is kept.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
