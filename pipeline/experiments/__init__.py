"""Experiments: the whole job (first stage -> rerank -> run -> evaluation) as one function, and the
paper's distillation table.
"""
