"""The README a newcomer reads: short, its links resolve, and its Python example runs as it says.

The example is run as a user would run it on a fresh clone: the SciFact index is built with the
command the README names, into a fresh ``PIPELINE_HOME`` (the committed ``data/`` linked in), and
every ```python block of the README is executed there in a new interpreter.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from pipeline.common.paths import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
LIMIT = 10_000  # bytes: the README is read in two minutes; the rest lives in docs/
INDEX_COMMAND = "python -m pipeline.index --dataset scifact"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def _local_links(page: Path) -> list[str]:
    """The links of ``page`` that point into the checkout (not web addresses), without anchors."""
    targets = (t.split("#", 1)[0] for t in LINK.findall(page.read_text()))
    return [t for t in targets if t and not re.match(r"[a-z]+:", t)]


def test_readme_is_under_10_kb():
    size = len(README.read_bytes())
    assert size < LIMIT, f"README.md is {size} bytes; move detail into docs/"


def test_every_docs_page_is_linked_from_the_readme_and_every_link_resolves():
    links = _local_links(README)
    pages = sorted(p.relative_to(ROOT).as_posix() for p in DOCS.glob("*.md"))
    assert pages, "docs/ has no pages"
    assert [p for p in pages if p not in links] == [], "docs pages the README does not link"
    for page in [README, *DOCS.glob("*.md")]:
        broken = [t for t in _local_links(page) if not (page.parent / t).exists()]
        assert broken == [], f"{page.relative_to(ROOT)} links to missing files"


def test_the_python_example_runs_on_a_fresh_index_and_prints_what_it_says(tmp_path):
    text = README.read_text()
    blocks = _python_blocks(text)
    assert blocks, "README.md has no ```python block"
    assert INDEX_COMMAND in text, "the README no longer says which index the example needs"
    home = tmp_path / "home"
    home.mkdir()
    (home / "data").symlink_to(ROOT / "data")
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_DATASETS"} | {"PIPELINE_HOME": str(home)}

    def python(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, *args], cwd=home, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    python("-m", *INDEX_COMMAND.split()[2:])
    (home / "example.py").write_text("\n\n".join(blocks))
    out = python("example.py").stdout

    ndcg = re.findall(r"^ndcg@10\s+([0-9.]+)$", out, re.M)
    assert len(ndcg) == 1, out
    assert 0 < float(ndcg[0]) < 1
    assert f"| {ndcg[0]} |" in text, f"the example's nDCG@10 {ndcg[0]} is not the README's BM25 figure"
    assert "(300 queries; mean over all qrels queries, missing ones score 0 (trec_eval -c))" in out
    assert "['qid', 'query', 'docno', 'score', 'rank']" in out
    frame = re.search(r"^\s*ndcg@10\s+recall@1000\n0\s+([0-9.]+)\s+([0-9.]+)$", out, re.M)  # the DataFrame's print
    assert frame and abs(float(frame.group(1)) - float(ndcg[0])) <= 5e-5 and 0 < float(frame.group(2)) <= 1, out
    assert (home / "runs" / "scifact.test.mine.trec").is_file()
    job = re.search(r"^(\S+) ([0-9.]+)$", out, re.M)  # run_job's output and nDCG@10: the same BM25 run
    assert job and (home / job.group(1)).is_file() and job.group(2) == ndcg[0], out
