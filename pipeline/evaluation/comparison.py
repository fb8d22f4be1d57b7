"""Many runs against one baseline, on several measures: the table a paper needs.

:func:`compare` evaluates every run with :func:`pipeline.evaluation.measures.evaluate` (trec_eval's
semantics), tests each run against the baseline per measure with a paired test over the same
queries, and corrects the p-values for the number of runs compared (one family per measure:
m = runs − 1). :class:`Comparison` renders as markdown, LaTeX or CSV; ``†`` marks a difference
from the baseline that is significant after correction, and the best value per measure is bold.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.collection.qrels import Qrels
from pipeline.common.errors import PipelineError
from pipeline.evaluation.measures import evaluate, measure_name
from pipeline.evaluation.significance import correct, paired_t_test, randomization_test
from pipeline.runfiles.trec import Run

TESTS = ("t-test", "randomization")


@dataclass
class Comparison:
    """Means, raw and corrected p-values against the baseline (``None`` for the baseline itself)."""

    names: list[str]
    baseline: str
    measures: list[str]
    means: dict[str, dict[str, float]]
    p_values: dict[str, dict[str, float | None]]
    p_adjusted: dict[str, dict[str, float | None]]
    test: str
    correction: str
    alpha: float
    queries: int
    convention: str

    def significant(self, name: str, measure: str) -> bool:
        p = self.p_adjusted[name][measure]
        return p is not None and p < self.alpha

    def _best(self, measure: str) -> float:
        return max(self.means[n][measure] for n in self.names)

    def caption(self) -> str:
        """What the markers mean, for under the table."""
        test = "paired t-test" if self.test == "t-test" else "paired randomization test"
        fix = {"holm": "Holm-corrected", "bonferroni": "Bonferroni-corrected", "none": "uncorrected"}[self.correction]
        return (f"† significantly different from {self.baseline} ({test}, {fix} p < {self.alpha}); "
                f"best in bold; {self.queries} queries, {self.convention}.")

    def to_markdown(self) -> str:
        head = "| run | " + " | ".join(self.measures) + " |"
        rule = "|---|" + "---:|" * len(self.measures)
        rows = []
        for n in self.names:
            cells = []
            for m in self.measures:
                cell = f"{self.means[n][m]:.4f}" + ("†" if self.significant(n, m) else "")
                cells.append(f"**{cell}**" if self.means[n][m] == self._best(m) else cell)
            rows.append(f"| {n}{' (baseline)' if n == self.baseline else ''} | " + " | ".join(cells) + " |")
        return "\n".join([head, rule, *rows, "", self.caption()]) + "\n"

    def to_latex(self) -> str:
        def tex(text: str) -> str:
            return "".join("\\" + c if c in "&%$#_{}" else c for c in text)

        lines = ["\\begin{tabular}{l" + "r" * len(self.measures) + "}", "\\toprule",
                 "Run & " + " & ".join(tex(m) for m in self.measures) + " \\\\", "\\midrule"]
        for n in self.names:
            cells = []
            for m in self.measures:
                cell = f"{self.means[n][m]:.4f}"
                cell = f"\\textbf{{{cell}}}" if self.means[n][m] == self._best(m) else cell
                cells.append(cell + ("$^\\dagger$" if self.significant(n, m) else ""))
            lines.append(tex(n) + " & " + " & ".join(cells) + " \\\\")
        caption = tex(self.caption()).replace("†", "$^\\dagger$")
        return "\n".join([*lines, "\\bottomrule", "\\end{tabular}", f"% {caption}"]) + "\n"

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["run", "measure", "value", "p_value", "p_adjusted", "significant", "baseline"])
        for n in self.names:
            for m in self.measures:
                p, adj = self.p_values[n][m], self.p_adjusted[n][m]
                writer.writerow([n, m, repr(self.means[n][m]), "" if p is None else repr(p),
                                 "" if adj is None else repr(adj), int(self.significant(n, m)), self.baseline])
        return out.getvalue()

    def to_frame(self):
        """A pandas DataFrame with PyTerrier's ``Experiment`` columns: ``name``, a column per measure, and
        per measure ``<m> p-value``, ``<m> p-value corrected`` and ``<m> reject`` (NaN and False for
        the baseline)."""
        import pandas as pd

        rows = []
        for n in self.names:
            row: dict[str, object] = {"name": n, **{m: self.means[n][m] for m in self.measures}}
            for m in self.measures:
                p, adj = self.p_values[n][m], self.p_adjusted[n][m]
                row.update({f"{m} p-value": float("nan") if p is None else p,
                            f"{m} p-value corrected": float("nan") if adj is None else adj,
                            f"{m} reject": self.significant(n, m)})
            rows.append(row)
        return pd.DataFrame(rows)

    def render(self, fmt: str) -> str:
        """The table as ``markdown``, ``latex`` or ``csv``."""
        renderers = {"markdown": self.to_markdown, "latex": self.to_latex, "csv": self.to_csv}
        if fmt not in renderers:
            raise PipelineError(f"unknown table format {fmt!r}; known: {', '.join(renderers)}")
        return renderers[fmt]()


def compare(runs: dict[str, Run], qrels: Qrels, baseline: str, measures: Sequence[str] = ("ndcg@10", "mrr@10", "map"),
            test: str = "t-test", correction: str = "holm", alpha: float = 0.05, trials: int = 10_000,
            seed: int = 42) -> Comparison:
    """Evaluate ``runs`` (name -> run, in table order) and test each against ``runs[baseline]``."""
    if baseline not in runs:
        raise PipelineError(f"baseline {baseline!r} is not one of the runs")
    if test not in TESTS:
        raise PipelineError(f"unknown test {test!r}; known: {', '.join(TESTS)}")
    measures = [measure_name(m) for m in measures]
    evals = {n: evaluate(r, qrels, measures) for n, r in runs.items()}
    base = evals[baseline]
    qids = list(base.per_query)
    p_values: dict[str, dict[str, float | None]] = {n: {} for n in runs}
    p_adjusted: dict[str, dict[str, float | None]] = {n: {} for n in runs}
    others = [n for n in runs if n != baseline]
    for m in measures:
        a = [base.per_query[q][m] for q in qids]
        raw = []
        for n in others:
            b = [evals[n].per_query[q][m] for q in qids]
            raw.append(paired_t_test(a, b) if test == "t-test" else randomization_test(a, b, trials, seed))
        for n, p, adj in zip(others, raw, correct(raw, correction), strict=True):
            p_values[n][m], p_adjusted[n][m] = p, adj
        p_values[baseline][m] = p_adjusted[baseline][m] = None
    return Comparison(list(runs), baseline, measures, {n: e.aggregate for n, e in evals.items()}, p_values,
                      p_adjusted, test, correction, alpha, base.queries, base.convention)
