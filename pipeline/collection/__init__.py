"""Collections: documents, queries and judgments in their formats, and the registry of named
datasets (the embedded ones, a user's ``datasets.toml``, ir_datasets names).
"""
