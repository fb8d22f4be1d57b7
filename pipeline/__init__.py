"""pipeline: BM25 candidates from Lucene, BERT cross-encoder reranking and its distillation.

Data flows one way: collection -> index -> candidates -> rerank -> run -> evaluation.

The public names load lazily (``import pipeline`` starts neither torch nor the JVM)::

    from pipeline import BM25, CrossEncoder, get_dataset, to_frame
    from pipeline.evaluation.measures import evaluate
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
    "get_dataset": "pipeline.collection.datasets", "Dataset": "pipeline.collection.datasets",
    "read_corpus": "pipeline.collection.corpora", "read_topics": "pipeline.collection.topics",
    "read_qrels": "pipeline.collection.qrels",
    "Passages": "pipeline.indexing.passages", "BiEncoder": "pipeline.indexing.biencoder",
    "BM25": "pipeline.candidates.bm25", "DenseSearcher": "pipeline.candidates.dense",
    "FirstStage": "pipeline.candidates.first_stage", "first_stage_run": "pipeline.candidates.first_stage",
    "CrossEncoder": "pipeline.rerank.crossencoder", "Splitting": "pipeline.rerank.long_documents",
    "Run": "pipeline.runfiles.trec", "read_run": "pipeline.runfiles.trec", "write_run": "pipeline.runfiles.trec",
    "to_frame": "pipeline.runfiles.trec", "from_frame": "pipeline.runfiles.trec",
    "rrf": "pipeline.candidates.fusion", "interpolate": "pipeline.candidates.fusion",
    "Evaluation": "pipeline.evaluation.measures", "Comparison": "pipeline.evaluation.comparison",
    "RunSettings": "pipeline.experiments.end_to_end", "run_job": "pipeline.experiments.end_to_end",
    "JobResult": "pipeline.experiments.end_to_end",
    "TrainingData": "pipeline.training.data", "Schedule": "pipeline.training.trainer",
    "TeacherTraining": "pipeline.training.teacher", "train_teacher": "pipeline.training.teacher",
    "Distillation": "pipeline.training.procedures", "distil": "pipeline.training.procedures",
    "DistillationExperiment": "pipeline.experiments.distillation",
    "PipelineError": "pipeline.common.errors",
}
# No name here may be a submodule's (evaluate, compare, rerank, training, ...): importing the submodule sets the
# package attribute of that name, so the export would turn into the module. The functions are
# imported from their modules: ``from pipeline.evaluate import evaluate``.
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
