"""Indexes: Lucene indexes built with Anserini (their manifests and the collection fingerprint
that ties a run to its collection), the bi-encoder that makes dense vectors, and passage text
fetched by docid.
"""
