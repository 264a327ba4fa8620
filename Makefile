# gp-autoloss: two commands do all set-up on a fresh machine.
#   make demo   -> creates .venv, installs everything (mmcv built from source), runs the main job
#   make test   -> same set-up, runs the test suite
#   make bench  -> reruns the benchmarks (proxy calibration, toy searches, speed; <= 60 min); make bench-tables: the rest
# Every set-up step is idempotent: a stamp file in .venv records what is done.

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
VPIP   := $(VPY) -m pip
STAMPS := $(VENV)/.stamps

TORCH_VERSION      := 2.13.0
SETUPTOOLS_VERSION := 80.9.0
MMCV_VERSION       := 2.1.0

.PHONY: demo test test-all test-fast bench bench-tables setup setup-core graphviz chromium clean lint

demo: setup
	$(VPY) -m detectors_adapter.demo

# The browser tests of the HTML report must run here, not skip: a missing Chromium fails them.
test: setup chromium
	GP_AUTOLOSS_REQUIRE_CHROMIUM=1 $(VPY) -m pytest -q -m "not slow" tests

test-all: setup chromium
	GP_AUTOLOSS_REQUIRE_CHROMIUM=1 $(VPY) -m pytest -q tests

test-fast: setup-core
	$(VPY) -m pytest -q -m "not slow and not mmdet" tests

bench: setup
	$(VPY) -m benchmarks.run_all

bench-tables: setup
	$(VPY) -m benchmarks.run_all --tables

setup: $(STAMPS)/project graphviz

setup-core: $(STAMPS)/core

$(STAMPS)/venv:
	$(PYTHON) -m venv $(VENV)
	mkdir -p $(STAMPS)
	touch $@

# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
$(STAMPS)/torch: $(STAMPS)/venv
	$(VPIP) install --quiet "torch==$(TORCH_VERSION)"
	touch $@

# mmcv 2.1.0 has no wheel for this torch: build it from source with CPU ops.
# It needs torch installed first and a setuptools that still ships pkg_resources.
$(STAMPS)/mmcv: $(STAMPS)/torch
	$(VPIP) install --quiet "setuptools==$(SETUPTOOLS_VERSION)" wheel ninja packaging
	MMCV_WITH_OPS=1 MAX_JOBS=2 $(VPIP) install --no-build-isolation "mmcv==$(MMCV_VERSION)"
	touch $@

# the example plugin package (examples/segmentation) is installed too, without an entry point: inactive until a
# command asks for it (--plugin gpa_segmentation), so its names never clash with a user's plugin; its tests ask
$(STAMPS)/core: $(STAMPS)/torch setup.py examples/segmentation/setup.py
	$(VPIP) install --quiet -e ".[dev]"
	$(VPIP) install --quiet --no-deps --no-build-isolation -e examples/segmentation
	touch $@

$(STAMPS)/project: $(STAMPS)/mmcv $(STAMPS)/core setup.py Makefile
	$(VPIP) install --quiet -e ".[mmdet,ray,dev]"
	touch $@

# Graphviz's `dot` renders loss DAGs; rendering still writes .dot files without it.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "installing graphviz (apt-get)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
	  || echo "warning: could not install graphviz; renders fall back to .dot files"; }

# Headless Chromium opens the HTML reports in the tests and takes `report --screenshot` pictures.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (apt-get)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "warning: could not install chromium; the browser tests will fail"; }

lint: setup-core
	$(VPY) -m ruff check .

clean:
	rm -rf demo_out .pytest_cache build *.egg-info
