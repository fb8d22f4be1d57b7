"""The first stage: BM25 (or QLD, with or without RM3) over a Lucene index, dense search over a
faiss index, and the hybrid of both, as candidate runs.
"""
