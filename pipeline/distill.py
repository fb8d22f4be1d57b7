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

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from pipeline.common.cli import add_debug_flag, run_main
from pipeline.common.errors import PipelineError
from pipeline.common.paths import MODELS
from pipeline.common.pretrained import minilm
from pipeline.rerank.ensemble import is_ensemble, read_ensemble
from pipeline.training.ensemble_fit import group_scores
from pipeline.training.flags import add_schedule_args, schedule, training_groups
from pipeline.training.initialise import load_ranker, student, uniform_mapping
from pipeline.training.lm_distillation import lm_distilled, same_tokenizer
from pipeline.training.losses import SCORE_LOSSES
from pipeline.training.procedures import PROCEDURES, student_dir
from pipeline.training.teacher_scores import teacher_scores
from pipeline.training.trainer import LossConfig, train


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.distill",
                                     description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--student", required=True, help="student depth, e.g. 4L or 6L")
    parser.add_argument("--procedure", choices=PROCEDURES, default="lm+ranker")
    parser.add_argument("--teacher", type=Path, default=MODELS / "teacher", help="the fine-tuned teacher")
    parser.add_argument("--lm", type=Path, help="the pretrained LM for LM distillation (default: packaged MiniLM)")
    parser.add_argument("--lm-texts", type=int, default=2000, help="collection passages for LM distillation")
    parser.add_argument("--hidden", type=int, help="student width (default: the teacher's)")
    parser.add_argument("--score-loss", choices=sorted(SCORE_LOSSES), default="kl", help="teacher-score loss")
    parser.add_argument("--temperature", type=float, default=1.0, help="KL temperature (default: 1)")
    parser.add_argument("--label-weight", type=float, default=None,
                        help="hard-label (softmax CE) weight; default 1 for label-only procedures, 0 otherwise")
    parser.add_argument("--hidden-weight", type=float, default=1.0, help="lm+ranker: hidden-state loss weight")
    parser.add_argument("--attention-weight", type=float, default=1.0, help="lm+ranker: attention loss weight")
    parser.add_argument("--init", type=Path,
                        help="start from this student checkpoint (a further stage; skips the LM stage)")
    parser.add_argument("--student-from", choices=["teacher", "lm"], default="teacher",
                        help="ranker: cut the student from the teacher's layers (default) or from the LM's (--lm), "
                             "e.g. a MiniLM student of an MPNet teacher")
    parser.add_argument("--output", type=Path, help="where to save (default: models/student<L>L[-<procedure>])")
    add_schedule_args(parser, epochs=1.0, lr=5e-5)
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    from transformers import AutoTokenizer, set_seed
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    set_seed(args.seed)  # before any model is built: fresh heads and projections come from the seed
    try:
        layers = int(args.student.upper().removesuffix("L"))
    except ValueError:
        raise PipelineError(f"--student must look like 4L or 6L, got {args.student!r}") from None
    needs_teacher = args.procedure in ("ranker", "lm+ranker")
    if args.init is not None:
        if not (args.init / "config.json").is_file():
            raise PipelineError(f"--init {args.init} is not a model directory (no config.json)")
        init_layers = json.loads((args.init / "config.json").read_text()).get("num_hidden_layers")
        if init_layers != layers:
            raise PipelineError(f"--init {args.init} has {init_layers} layers, not the student's {layers}")
    if needs_teacher and not ((args.teacher / "config.json").is_file() or is_ensemble(args.teacher)):
        raise PipelineError(f"no teacher at {args.teacher}; build it with `python -m pipeline.train teacher`")
    members = read_ensemble(args.teacher) if needs_teacher and is_ensemble(args.teacher) else None
    layer_teacher = args.teacher  # whose layers the student is cut from or imitates
    if members is not None:
        cross = [m.location for m in members if m.kind == "cross-encoder"]
        if not cross and (args.procedure == "lm+ranker" or args.student_from == "teacher"):
            raise PipelineError(f"the ensemble {args.teacher} has no cross-encoder member whose layers a student "
                                f"could imitate; use --procedure ranker --student-from lm")
        layer_teacher = cross[0] if cross else None
    output = args.output or student_dir(MODELS, layers, args.procedure)
    t0 = time.perf_counter()
    from_lm = args.procedure != "ranker" or args.student_from == "lm"
    tokenizer = AutoTokenizer.from_pretrained(args.init or (args.lm or minilm() if from_lm or not needs_teacher
                                                            else layer_teacher))
    if args.procedure == "lm+ranker" and not same_tokenizer(tokenizer, AutoTokenizer.from_pretrained(layer_teacher)):
        raise PipelineError(f"lm+ranker compares hidden states token by token, but {layer_teacher} tokenizes "
                            f"differently from the student; use --procedure ranker --student-from lm (scores only)")
    groups = training_groups(args)
    label_weight = args.label_weight if args.label_weight is not None else (0.0 if needs_teacher else 1.0)
    teacher = projection = scores = None
    if args.procedure in ("finetune", "lm-then-finetune"):
        if args.procedure == "finetune" and args.init is None:
            model, mapping = student(load_ranker(args.lm or minilm()), layers, args.hidden, seed=args.seed)
        else:
            model = load_ranker(args.init or lm_distilled(args, layers, args.hidden, tokenizer))
            mapping = uniform_mapping(layers, model.config.num_hidden_layers)
        loss = LossConfig(label_loss="softmax-ce", label_weight=label_weight, mapping=mapping)
    else:
        scores = group_scores(members, groups, max_length=args.max_length) if members is not None else \
            teacher_scores(args.teacher, groups, max_length=args.max_length)
        attn = "eager" if args.procedure == "lm+ranker" else "sdpa"
        teacher_model = load_ranker(layer_teacher or args.lm or minilm(), attn=attn)
        mapping = uniform_mapping(layers, teacher_model.config.num_hidden_layers)
        if args.init is not None:
            model = load_ranker(args.init, attn=attn)
        elif args.procedure == "ranker":
            source = load_ranker(args.lm or minilm()) if args.student_from == "lm" else teacher_model
            model, mapping = student(source, layers, args.hidden, seed=args.seed)
        else:
            model = load_ranker(lm_distilled(args, layers, args.hidden, tokenizer), attn="eager")
            if model.config.hidden_size == teacher_model.config.hidden_size:
                # the last layer is pulled onto the teacher's, whose pooler and head then read it
                model.bert.pooler.load_state_dict(teacher_model.bert.pooler.state_dict())
                model.classifier.load_state_dict(teacher_model.classifier.state_dict())
        if args.procedure == "ranker":
            loss = LossConfig(label_loss="softmax-ce", label_weight=label_weight, score_loss=args.score_loss,
                              temperature=args.temperature, mapping=mapping)
        else:
            teacher = teacher_model
            if model.config.hidden_size != teacher.config.hidden_size:
                projection = torch.nn.Linear(model.config.hidden_size, teacher.config.hidden_size)
            loss = LossConfig(label_loss="softmax-ce", label_weight=label_weight, score_loss=args.score_loss,
                              temperature=args.temperature, hidden_weight=args.hidden_weight,
                              attention_weight=args.attention_weight, mapping=mapping)
    print(f"{args.procedure}: {layers}L student, {len(groups)} groups, losses {loss}")
    summary = train(model, tokenizer, output, loss, schedule(args), groups=groups, teacher_scores=scores,
                    teacher=teacher, projection=projection, resume=args.resume,
                    provenance={"procedure": args.procedure, "student_layers": layers,
                                "init": str(args.init) if args.init else None,
                                "teacher": str(args.teacher) if needs_teacher else None})
    print(f"saved {output}: {summary['steps']} steps in {time.perf_counter() - t0:.0f} s, loss "
          f"{summary['first_logged_loss']} -> {summary['last_logged_loss']}")
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
