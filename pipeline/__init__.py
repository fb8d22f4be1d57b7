"""pipeline: BM25 candidates from Lucene, BERT cross-encoder reranking and its distillation.

Data flows one way: collection -> index -> candidates -> rerank -> run -> evaluation.

The public names load lazily (``import pipeline`` starts neither torch nor the JVM)::

    from pipeline import BM25, CrossEncoder, get_dataset, to_frame
    from pipeline.evaluate import evaluate
"""

import importlib
import os

__version__ = "0.1.0"

# Intel MKL's strict reproducible mode, read when torch loads MKL: matrix products then give the
# same bits whatever the thread count (by default a 6x384 by 384x384 product differs between 1
# and 2 threads), so a run scored by 2 single-thread ranks equals one scored by 1 two-thread
# process, byte for byte. No measurable cost on the development CPU. A value you set is kept.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

#: public name -> the module that defines it (imported on first use)
_EXPORTS = {
    "get_dataset": "pipeline.datasets", "Dataset": "pipeline.datasets",
    "read_corpus": "pipeline.corpora", "read_topics": "pipeline.topics", "read_qrels": "pipeline.qrels",
    "BM25": "pipeline.bm25", "DenseSearcher": "pipeline.dense", "BiEncoder": "pipeline.biencoder",
    "CrossEncoder": "pipeline.crossencoder", "Passages": "pipeline.passages",
    "Run": "pipeline.runs", "read_run": "pipeline.runs", "write_run": "pipeline.runs",
    "to_frame": "pipeline.runs", "from_frame": "pipeline.runs",
    "rrf": "pipeline.fusion", "interpolate": "pipeline.fusion",
    "Evaluation": "pipeline.evaluate", "Comparison": "pipeline.comparison",
    "RunSettings": "pipeline.end_to_end", "run_job": "pipeline.end_to_end", "JobResult": "pipeline.end_to_end",
    "FirstStage": "pipeline.first_stage", "first_stage_run": "pipeline.first_stage",
    "Splitting": "pipeline.long_documents",
    "PipelineError": "pipeline.errors",
}
# No name here may be a submodule's (evaluate, compare, rerank, ...): importing the submodule sets the
# package attribute of that name, so the export would turn into the module. The functions are
# imported from their modules: ``from pipeline.evaluate import evaluate``.
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
