# The two commands of the README:
#   make book   set up the environment, fetch the offline data, run every notebook at the cpu
#               profile with papermill, write the status page, build the HTML book (-W: warnings fail)
#   make test   set up the environment and data, run the unit tests and nbval on the smoke notebooks
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BOOK_PROFILE ?= cpu
# the order matters only for speed: fig5 and supp_tab1 reuse the models tab1 trains
ARTEFACTS := tab1 fig5 supp_tab1 tab3 fig9 supp_fig1 supp_tab2 provlae_fig2 provlae_info vhp_tab1

.PHONY: book test env data notebooks status html smoke-notebooks benchmark clean

env: $(VENV)/.installed
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(VENV)/bin/pip install -q --no-deps -e . 2>&1 | { grep -v "^WARNING: Location" || true; }
	touch $@

data: env
	$(PY) -m hebm_lib data fetch fmnist mnist5k

notebooks: data
	mkdir -p book/generated
	for a in $(ARTEFACTS); do \
	  echo "== $$a ($(BOOK_PROFILE))"; start=$$(date +%s); \
	  $(PY) -m hebm_lib run $$a --profile $(BOOK_PROFILE) --output book/generated/$$(\
	    $(PY) -c "from hebm_lib.manifest import get; print(get('$$a').notebook)").ipynb; \
	  echo "   $$a took $$(( $$(date +%s) - start )) s"; \
	done

status: env
	$(PY) -m hebm_lib status --profile $(BOOK_PROFILE) --out book/generated/status.md

html: env
	$(VENV)/bin/jupyter-book build -W -n --keep-going book

book: notebooks status html
	@echo "book: book/_build/html/index.html"

smoke-notebooks: data
	for a in $(ARTEFACTS); do \
	  nb=$$($(PY) -c "from hebm_lib.manifest import get; print(get('$$a').notebook)"); \
	  $(PY) -m hebm_lib run $$a --profile smoke --prepare-only --output build/smoke/$$nb.ipynb \
	    -p cache_dir=$(CURDIR)/build/smoke/cache -p out_dir=$(CURDIR)/build/smoke/results; \
	done

test: smoke-notebooks
	$(PY) -m pytest tests build/smoke --nbval-lax --nbval-current-env -p no:cacheprovider

benchmark: env
	$(PY) benchmarks/train_step.py

clean:
	rm -rf build book/_build book/generated
