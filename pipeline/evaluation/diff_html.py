"""A :class:`~pipeline.evaluation.diff.RunDiff` as one self-contained HTML page (no server, no network).

The page holds the summary, a per-query table (click a header to sort) and, for the biggest
movers, the two top-k lists side by side with passage snippets, relevance marked, and each
document's rank in the other run. Everything (CSS, the few lines of script, the texts) is inline.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from pipeline.common.errors import PipelineError
from pipeline.evaluation.diff import RunDiff

SNIPPET = 240

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.3em} h2{font-size:1.1em;margin-top:1.6em} pre{background:#f6f6f6;padding:.6em}
table{border-collapse:collapse} th,td{padding:2px 8px;text-align:right;border-bottom:1px solid #ddd}
th{cursor:pointer;background:#eee} td.qid,th.qid{text-align:left}
td.qid{max-width:32em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.up{color:#0a7a0a} .down{color:#b00020}
.pair{display:flex;gap:1.2em} .side{flex:1;min-width:0} .side ol{padding-left:2.2em}
li.doc{margin:.3em 0;padding:.2em .4em;border-left:4px solid #ccc}
li.rel{border-left-color:#0a7a0a;background:#eef8ee} li.nonrel{border-left-color:#b00020}
.badge{font-size:.8em;padding:0 .4em;border-radius:3px;background:#ddd;margin-left:.3em}
li.rel .badge{background:#0a7a0a;color:#fff} .snippet{color:#555;font-size:.9em}
.query{font-style:italic}
"""

_SCRIPT = """
document.querySelectorAll('#queries th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var body = document.querySelector('#queries tbody');
    var rows = Array.from(body.rows), asc = th.dataset.asc !== '1';
    rows.sort(function (x, y) {
      var a = x.cells[col].dataset.v, b = y.cells[col].dataset.v;
      var c = col === 0 ? a.localeCompare(b) : parseFloat(a) - parseFloat(b);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    th.dataset.asc = asc ? '1' : '0';
  });
});
document.body.dataset.sortable = 'yes';
"""


def _signed(value: float) -> str:
    cls = "up" if value > 0 else "down" if value < 0 else ""
    return f'<span class="{cls}">{value:+.4f}</span>'


def _doc_item(diff: RunDiff, qid: str, docid: str, rank: int, other: dict[str, int],
              text: Callable[[str], str] | None) -> str:
    grade = diff.qrels.get(qid, {}).get(docid)
    cls = "unjudged" if grade is None else "rel" if grade > 0 else "nonrel"
    label = "unjudged" if grade is None else f"grade {grade}"
    there = other.get(docid)
    move = "not in the other run" if there is None else f"rank {there} in the other run"
    snippet = ""
    if text is not None:
        try:
            body = text(docid)
        except PipelineError:  # a docid the collection lacks: show the docid alone
            body = ""
        cut = body[:SNIPPET] + ("…" if len(body) > SNIPPET else "")
        snippet = f'<div class="snippet">{escape(cut)}</div>'
    return (f'<li class="doc {cls}" value="{rank}"><b>{escape(docid)}</b><span class="badge">{label}</span> '
            f'<small>({move})</small>{snippet}</li>')


def render(diff: RunDiff, text: Callable[[str], str] | None = None, queries: dict[str, str] | None = None,
           depth: int = 10, movers: int = 10, title: str = "Run diff") -> str:
    """The page: ``text(docid)`` gives snippets and ``queries`` the query texts, when available."""
    wins, ties, losses = diff.counts()
    picked = diff.movers(movers)
    anchors = {q.qid for q in picked}
    rows = []
    for q in diff.queries:
        name = f'<a href="#q-{escape(q.qid)}">{escape(q.qid)}</a>' if q.qid in anchors else escape(q.qid)
        qid = escape(q.qid)
        rows.append(f'<tr class="query-row"><td class="qid" data-v="{qid}" title="{qid}">{name}</td>'
                    f'<td data-v="{q.a}">{q.a:.4f}</td><td data-v="{q.b}">{q.b:.4f}</td>'
                    f'<td data-v="{q.delta}">{_signed(q.delta)}</td><td data-v="{q.overlap}">{q.overlap:.2f}</td>'
                    f'<td data-v="{q.rbo}">{q.rbo:.3f}</td></tr>')
    sections = []
    for q in picked:
        ranked = {side: diff.ranking(side, q.qid) for side in "ab"}
        pos = {side: {d: i for i, d in enumerate(ranked[side], start=1)} for side in "ab"}
        sides = []
        for side, other, name in (("a", "b", diff.name_a), ("b", "a", diff.name_b)):
            items = "".join(_doc_item(diff, q.qid, d, i, pos[other], text)
                            for i, d in enumerate(ranked[side][:depth], start=1))
            sides.append(f'<div class="side"><h3>{side.upper()}: {escape(name)}</h3><ol>{items}</ol></div>')
        below = [f"{escape(d)} (grade {g}): {ra or '-'} → {rb or '-'}" for d, g, ra, rb in diff.relevant_moves(q.qid)]
        qtext = f'<p class="query">{escape(queries[q.qid])}</p>' if queries and q.qid in queries else ""
        sections.append(f'<section class="mover" id="q-{escape(q.qid)}"><h2>Query {escape(q.qid)}: '
                        f'{diff.measure} {q.a:.4f} → {q.b:.4f} ({_signed(q.delta)})</h2>{qtext}'
                        f'<p>Relevant documents, rank in A → rank in B: {"; ".join(below) or "none"}</p>'
                        f'<div class="pair">{"".join(sides)}</div></section>')
    head = (f"<tr><th class='qid'>query</th><th>A</th><th>B</th><th>B−A</th>"
            f"<th>overlap@{diff.overlap_k}</th><th>RBO</th></tr>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_CSS}</style></head><body>\n<h1>{escape(title)}</h1>"
            f"<pre>{escape(diff.summary())}</pre>"
            f"<p>B vs A on {len(diff.queries)} queries: <b>{wins}</b> wins, <b>{ties}</b> ties, "
            f"<b>{losses}</b> losses.</p>"
            f"<h2>The {len(picked)} biggest movers, top {depth} of each run</h2>{''.join(sections)}"
            f"<h2>Per-query {diff.measure} (click a header to sort)</h2><table id='queries'><thead>{head}</thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            f"<script>{_SCRIPT}</script></body></html>\n")
