import pytest

from pipeline.collection.datasets import bucket, get_dataset, registry
from pipeline.common.errors import PipelineError


def test_car_splits_are_by_page_disjoint_and_cover_all_section_queries():
    car = get_dataset("car-test200")
    splits = {s: set(car.qrels(s)) for s in ("train", "dev", "test")}
    assert sum(len(q) for q in splits.values()) == 2072
    pages = {s: {q.split("/")[0] for q in qids} for s, qids in splits.items()}
    assert not (pages["train"] & pages["dev"]) and not (pages["train"] & pages["test"]) \
        and not (pages["dev"] & pages["test"])
    assert len(pages["train"]) + len(pages["dev"]) + len(pages["test"]) == 198
    assert set(car.topics_for("test")) == splits["test"]


def test_scifact_dev_is_a_fixed_part_of_train_and_test_is_official():
    sci = get_dataset("scifact")
    train, dev, test = (set(sci.qrels(s)) for s in ("train", "dev", "test"))
    assert len(train) + len(dev) == 809 and len(test) == 300 and not (train & dev)
    assert dev == {q for q in train | dev if bucket(q) < 20}
    assert list(sci.topics_for("test"))[:3] == ["1", "3", "5"]


def test_bucket_is_a_golden_md5_split():
    # golden values: changing the hash would silently reshuffle every split
    assert [bucket(k) for k in ("ASME", "0", "Activity%20theory")] == [83, 50, 83]
    assert all(0 <= bucket(str(i)) < 100 for i in range(1000))


def test_unknown_dataset_and_split_list_the_known_ones():
    with pytest.raises(PipelineError, match=r"unknown dataset 'nope'; known: car-test200, msmarco-dl19, scifact"):
        get_dataset("nope")
    with pytest.raises(PipelineError, match=r"has no split 'valid'; it has: train, dev, test"):
        get_dataset("scifact").split("valid")


def test_user_datasets_from_a_toml_file(scifact_slice, monkeypatch):
    monkeypatch.setenv("PIPELINE_DATASETS", str(scifact_slice / "datasets.toml"))
    ds = registry()["sci-slice"]
    assert ds.corpus == scifact_slice / "corpus.jsonl" and ds.remove_query
    assert len(ds.topics_for("test")) == 40


def test_bad_user_config_is_one_clear_error(tmp_path, monkeypatch):
    config = tmp_path / "datasets.toml"
    monkeypatch.setenv("PIPELINE_DATASETS", str(config))
    config.write_text('[x]\ncorpus = "c"\n')
    with pytest.raises(PipelineError, match=r"datasets.toml: \[x\] lacks corpus_format, topics, topics_format, splits"):
        get_dataset("x")
    config.write_text("[x\n")
    with pytest.raises(PipelineError, match="not valid TOML"):
        get_dataset("x")
