"""ir_datasets names (``irds:<id>``): tiny datasets registered through ir_datasets' own registry and
formats from local files (nothing is downloaded here), read, indexed with Pyserini, searched and
evaluated through the commands; an unknown id and a download that cannot happen are one-line errors."""

import json
import os
import re
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.collection import irds
from pipeline.collection.corpora import Doc
from pipeline.collection.datasets import dataset_split, get_dataset, load_qrels, load_topics
from pipeline.common.errors import PipelineError
from pipeline.runfiles.trec import read_run

from .conftest import run_cli
from .test_cli import one_line_error

# the module a user would name in $PIPELINE_IRDS_PLUGINS: ir_datasets' registry and formats, local files
PLUGIN = '''
from ir_datasets import registry
from ir_datasets.datasets.base import Dataset
from ir_datasets.datasets.beir import BeirTitleDoc
from ir_datasets.formats import TrecQrels, TrecQuery, TrecScoredDocs, TsvDocs, TsvQueries
from ir_datasets.util import LocalDownload

root = {root!r}
docs = TsvDocs(LocalDownload(root + "/docs.tsv"), doc_cls=BeirTitleDoc)
queries = TsvQueries(LocalDownload(root + "/topics.tsv"), query_cls=TrecQuery)
qrels = TrecQrels(LocalDownload(root + "/qrels.txt"), {{0: "not relevant", 1: "relevant", 2: "highly relevant"}})
registry.register("test-local/tiny", Dataset(docs, queries, qrels))
registry.register("test-local/tiny/scored", Dataset(docs, queries, qrels,
                                                    TrecScoredDocs(LocalDownload(root + "/scored.run"))))
registry.register("test-local/plain", Dataset(TsvDocs(LocalDownload(root + "/plain.tsv")),
                                              TsvQueries(LocalDownload(root + "/queries.tsv")), qrels))
'''
DOCS = [Doc("d1", "Cats", "the cat sat on the mat"), Doc("d2", "", "dogs bark loudly at night"),
        Doc("d3", "Pets", "cats and dogs live together")]
QRELS = {"q1": {"d1": 1, "d3": 0}, "q2": {"d2": 2}}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, str]:
    """The files of the test-local datasets and the environment that registers them in any process."""
    root = tmp_path_factory.mktemp("irds")
    # BeirTitleDoc columns: doc_id, text, title; TrecQuery: query_id, title, description, narrative
    (root / "docs.tsv").write_text("".join(f"{d.id}\t{d.text}\t{d.title}\n" for d in DOCS))
    (root / "plain.tsv").write_text("".join(f"{d.id}\t{d.text}\n" for d in DOCS))
    (root / "topics.tsv").write_text("q1\tcat  mat\tA cat on a mat?\tAbout cats.\n"
                                     "q2\tdogs bark\tWhy do dogs bark?\tAbout dogs.\n"
                                     "q3\tunjudged\tNot judged.\tNone.\n")
    (root / "queries.tsv").write_text("q1\tcat mat\nq2\tdogs bark\n")
    (root / "qrels.txt").write_text("q1 0 d1 1\nq1 0 d3 0\nq2 0 d2 2\n")
    # q2's two candidates carry one score, as MS MARCO's top-1000 lists (no scores) do
    (root / "scored.run").write_text("q1 Q0 d3 1 2.5 bm25\nq1 Q0 d1 2 1.0 bm25\nq2 Q0 d1 1 0 bm25\nq2 Q0 d2 2 0 bm25\n")
    (root / "irds_tiny.py").write_text(PLUGIN.format(root=str(root)))
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
            irds.PLUGINS: "irds_tiny", "IR_DATASETS_HOME": str(root / "home")}


@pytest.fixture
def registered(tiny, monkeypatch, tmp_path):
    """The test-local datasets registered in this process; cached candidates go to ``tmp_path``."""
    for key, value in tiny.items():
        monkeypatch.setenv(key, value)
    monkeypatch.syspath_prepend(tiny["PYTHONPATH"].split(os.pathsep)[0])
    monkeypatch.setattr(irds, "RUN_CACHE", tmp_path / "cache")


def test_an_irds_name_is_a_dataset_of_ir_datasets_registry(registered):
    ds = get_dataset("irds:test-local/tiny")
    assert isinstance(ds, irds.IrdsDataset) and ds.irds_id == "test-local/tiny"
    assert ds.name == "irds_test-local_tiny" and get_dataset(ds.name) == ds  # the file-safe name, as printed
    assert list(ds.splits) == ["test"] and ds.default_split == "test" and ds.split("test").candidates is None
    assert dataset_split("irds:test-local/tiny") == (ds, "test") == dataset_split("irds:test-local/tiny:test")
    assert dataset_split("irds_test-local_tiny:test") == (ds, "test")
    assert load_qrels("irds:test-local/tiny") == QRELS and load_topics("irds:test-local/tiny") == {
        "q1": "cat mat", "q2": "dogs bark"}
    with pytest.raises(PipelineError, match=r"has no split 'dev'; it has: test"):
        ds.qrels("dev")
    assert [irds.split_name(i) for i in ("beir/scifact/test", "msmarco-passage/dev/small",
                                         "msmarco-passage/trec-dl-2019/judged", "msmarco-passage/train/judged")] \
        == ["test", "dev", "test", "train"]


def test_docs_queries_and_topic_fields_come_from_ir_datasets(registered):
    ds = get_dataset("irds:test-local/tiny")
    assert list(ds.docs()) == DOCS and [d.contents for d in ds.docs()][:2] == [
        "Cats the cat sat on the mat", "dogs bark loudly at night"]  # title + text, as BEIR's flat contents
    assert ds.qrels("test") == QRELS
    fields = {f: replace(ds, topic_field=f).topics_for("test")
              for f in ("title", "description", "narrative", "title+description")}
    assert fields == {"title": {"q1": "cat mat", "q2": "dogs bark"},  # judged ones only, whitespace collapsed
                      "description": {"q1": "A cat on a mat?", "q2": "Why do dogs bark?"},
                      "narrative": {"q1": "About cats.", "q2": "About dogs."},
                      "title+description": {"q1": "cat mat A cat on a mat?", "q2": "dogs bark Why do dogs bark?"}}
    plain = get_dataset("irds:test-local/plain")  # GenericDoc, GenericQuery: a text and nothing else
    assert [d.contents for d in plain.docs()] == [d.text for d in DOCS]
    assert plain.topics_for("test") == {"q1": "cat mat", "q2": "dogs bark"}
    with pytest.raises(PipelineError, match=r"^irds:test-local/plain: its queries \(GenericQuery: text\) have no "
                                            r"description for topic field 'description'$"):
        replace(plain, topic_field="description").topics_for("test")


def test_scored_docs_are_the_candidates_and_passages_come_from_the_docstore(registered, tmp_path, capsys):
    ds = get_dataset("irds:test-local/tiny/scored")
    path = ds.split("test").candidates
    assert path == tmp_path / "cache" / "irds_test-local_tiny_scored.test.scoreddocs.trec"
    assert read_run(path) == {"q1": {"d3": 2.5, "d1": 1.0}, "q2": {"d1": 0.0, "d2": 0.0}}
    assert "the scored docs of 1 of 2 queries all have one score" in capsys.readouterr().err
    passages = ds.passages()
    assert passages.get("d3") == "Pets cats and dogs live together" and passages.get("d2") == DOCS[1].text
    with pytest.raises(PipelineError, match=r"document 'd9' is not in irds:test-local/tiny/scored"):
        passages.get("d9")


def test_index_search_and_evaluate_an_irds_dataset_through_the_commands(tiny, tmp_path):
    env = {**tiny, "PIPELINE_HOME": str(tmp_path)}
    proc = run_cli("pipeline.index", "--dataset", "irds:test-local/tiny", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"indexed 3 documents into {tmp_path / 'indexes' / 'irds_test-local_tiny'}" in proc.stdout
    proc = run_cli("pipeline.run", "--dataset", "irds:test-local/tiny", "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "runs" / "irds_test-local_tiny.test.bm25.trec"
    run = read_run(out)  # real BM25: "cat mat" finds d1 (and d3's "cats"), "dogs bark" d2 (and d3's "dogs")
    assert set(run) == {"q1", "q2"} and max(run["q1"], key=run["q1"].get) == "d1" \
        and max(run["q2"], key=run["q2"].get) == "d2"
    assert re.search(r"ndcg@10 +1\.0000", proc.stdout) and "(2 queries;" in proc.stdout
    sidecar = json.loads(Path(f"{out}.json").read_text())
    assert sidecar["evaluation"]["ndcg@10"] == 1.0 and sidecar["config"]["candidates"] == "bm25"
    proc = run_cli("pipeline.evaluate", "--qrels", "irds:test-local/tiny", "--run", str(out), "-q", env=env)
    assert proc.returncode == 0 and re.search(r"ndcg@10 +1\.0000", proc.stdout), proc.stderr

    proc = run_cli("pipeline.run", "--dataset", "irds:test-local/tiny/scored", "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr
    # q1: d3 (2.5, not relevant) above d1 -> RR 1/2; q2 tied at 0, trec_eval's order puts d2 first -> RR 1
    assert re.search(r"mrr@10 +0\.7500", proc.stdout)
    assert "warning: irds_test-local_tiny_scored:test: the scored docs of 1 of 2 queries all have one score" \
        in proc.stderr
    sidecar = json.loads((tmp_path / "runs" / "irds_test-local_tiny_scored.test.bm25.trec.json").read_text())
    assert sidecar["config"]["candidates"] == str(tmp_path / "runs" / ".cache" /
                                                  "irds_test-local_tiny_scored.test.scoreddocs.trec")


def test_an_unknown_id_or_plugin_is_one_line(tiny):
    assert one_line_error(run_cli("pipeline.run", "--dataset", "irds:test-local/tiyn", env=tiny)) == (
        "error: unknown ir_datasets id 'test-local/tiyn' (did you mean test-local/tiny, test-local/plain, "
        "test-local/tiny/scored?); the ids are listed at https://ir-datasets.com (a dataset "
        "of your own: register it in a module named in $PIPELINE_IRDS_PLUGINS)")
    assert one_line_error(run_cli("pipeline.index", "--dataset", "irds:test-local/tiny",
                                  env={**tiny, irds.PLUGINS: "irds_tiny,no_such_plugin"})).startswith(
        "error: $PIPELINE_IRDS_PLUGINS: cannot import 'no_such_plugin' (No module named 'no_such_plugin')")
    assert one_line_error(run_cli("pipeline.run", "--dataset", "irds:beir/scifact", env=tiny)) == (
        "error: irds:beir/scifact has no qrels in ir_datasets: name one of its subsets with judgments "
        "(a corpus alone can only be indexed)")


def test_a_download_that_cannot_happen_is_one_line_naming_where_the_files_go(tiny, tmp_path):
    home = tmp_path / "ir_datasets"
    with socket.socket() as closed:  # bound, never listening: the proxy every request goes through refuses it
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
        proc = run_cli("pipeline.index", "--dataset", "irds:beir/scifact/test", "--index", str(tmp_path / "idx"),
                       env={"IR_DATASETS_HOME": str(home), "HTTPS_PROXY": proxy, "https_proxy": proxy,
                            "HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""})
    line = one_line_error(proc)
    assert line.startswith("error: irds:beir/scifact/test: ir_datasets cannot give its docs (ProxyError: ")
    assert "Connection refused" in line and line.endswith(
        f"it downloads them on first use into {home}: without a network, put the files there first "
        f"(see https://ir-datasets.com)")
    assert not (tmp_path / "idx").exists()
