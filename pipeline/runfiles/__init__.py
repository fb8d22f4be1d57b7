"""Runs: the TREC run format every stage hands on (the one reader and writer, with trec_eval's tie
order), fusing runs, and checking a run as a TREC submission.
"""
