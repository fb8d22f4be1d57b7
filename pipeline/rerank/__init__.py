"""Reranking: the cross-encoder and its fast paths (fastbert, ONNX int8), rescoring a candidate
run resumably, long documents as passages, ensemble teachers, and the named models.
"""
