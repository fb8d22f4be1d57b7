"""pipeline: BM25 candidates from Lucene, BERT cross-encoder reranking and its distillation.

Data flows one way: collection -> index -> candidates -> rerank -> run -> evaluation.
"""

__version__ = "0.1.0"
