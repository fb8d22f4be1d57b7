"""Where the project keeps things: one definition of each folder.

``PIPELINE_HOME`` moves them all (default: the checkout this package lives in).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("PIPELINE_HOME", Path(__file__).resolve().parents[2]))
DATA = ROOT / "data"  # the embedded collections
INDEXES = ROOT / "indexes"  # Lucene and faiss indexes, one folder each
RUNS = ROOT / "runs"  # TREC run files and their sidecars
RUN_CACHE = RUNS / ".cache"  # first-stage runs, keyed by index, settings and topics
EVAL = ROOT / "eval"  # evaluation results and the experiment tables
MODELS = ROOT / "models"  # trained rerankers
MODEL_CACHE = MODELS / ".cache"  # training groups, teacher scores, LM-distilled students
