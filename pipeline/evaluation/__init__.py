"""Evaluation: measures with trec_eval's semantics, significance tests, comparisons of many runs,
and run diffs (text and HTML).
"""
