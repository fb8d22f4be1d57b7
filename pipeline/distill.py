"""``python -m pipeline.distill --student 4L --procedure P``: the distillation procedures the paper compares.

- ``finetune``: the small model (the pretrained LM's layers, uniformly chosen) trained on labels
  only, no teacher.
- ``lm-then-finetune``: LM distillation first (the student imitates the pretrained LM's hidden
  states and attention maps on collection text: TinyBERT's general distillation), then labels.
- ``ranker``: the student, initialised from the teacher's layers (uniform mapping), learns the
  teacher's scores (``--score-loss kl|mse|margin-mse``, ``--temperature``), plus an optional
  hard-label term (``--label-weight``).
- ``lm+ranker`` (default; the paper's recommendation): LM distillation, then ranker distillation
  with the score loss and intermediate losses against the teacher (hidden states including the
  embeddings, attention maps, uniform layer mapping). At the teacher's width the student starts
  with the teacher's pooler and classifier: the hidden-state loss pulls its last layer onto the
  teacher's, which that head reads.

Students have the teacher's width unless ``--hidden`` says otherwise (e.g. ``--hidden 312`` for
TinyBERT's 4 × 312, with a learned projection for the hidden-state loss). The default output is
``models/student<L>L`` for ``lm+ranker`` and ``models/student<L>L-<procedure>`` otherwise; the layer
mapping and loss weights are saved in its ``pipeline-training.json``.

A teacher of another family than the students' LM (the 12 x 768 MPNet teacher, with its own
tokenizer, and MiniLM students): ``ranker`` with ``--student-from lm`` cuts the student from the LM's
layers (uniform mapping, a fresh head) and teaches it the teacher's scores only, each model reading
its own tokenization of the same pairs; layer losses cannot compare hidden states token by token
across tokenizers, so ``lm+ranker`` refuses such a pair.

``--teacher`` may also be an ensemble (:mod:`pipeline.rerank.ensemble`, fitted by ``pipeline.train
ensemble``): the score losses learn the ensemble's weighted sum, and the layer losses (and a student
cut from the teacher) use its first cross-encoder member.

``--init PATH`` starts the student from an existing checkpoint of the student's depth instead (no LM
stage, its own pooler and head kept): a further stage of a distilled student, e.g. a second pass
over freshly sampled negatives at a lower learning rate. A student narrower than the teacher
gets a fresh hidden-state projection then (the projection is a training aid, not saved with the model).
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.common.cli import add_debug_flag, run_main
from pipeline.training.flags import distillation, distillation_parser, schedule, training_data
from pipeline.training.procedures import distil


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = distillation_parser(prog="python -m pipeline.distill",
                                 description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    summary = distil(distillation(args), training_data(args), schedule(args), resume=args.resume)
    print(f"saved {summary['output']}: {summary['steps']} steps in {summary['wall_seconds']:.0f} s, loss "
          f"{summary['first_logged_loss']} -> {summary['last_logged_loss']}")
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
