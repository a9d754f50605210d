# The two set-up commands: `make run` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= var
STAMP  := $(VENV)/.installed

.PHONY: screenshots run test tools test-pythons install pgo bench bench-edge fuzz lint clean loadtest storm \
	bench-register

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel

# Editable install: builds the Cython extensions in place next to their .pyx, then the
# SIP parser again, profile-guided.
$(STAMP): $(BIN)/python pyproject.toml setup.py benchmarks/pgo_workload.py \
		$(wildcard edge/*.pyx edge/*.pxd edge/*.pxi)
	$(BIN)/pip install --quiet -e '.[test]'
	$(MAKE) --no-print-directory pgo
	touch $(STAMP)

# Profile-guided build of the compiled SIP parser (GCC): an instrumented build, a training
# run over the test corpus (benchmarks/pgo_workload.py), then the optimised build, in
# place. ~10% faster parses: docs/sipparse.md. Another compiler keeps the plain build.
PGO_BUILD = $(BIN)/python setup.py -q build_ext --inplace --force --build-temp build/pgo
CC_NAME = $$($(BIN)/python -c 'import os, sysconfig; print((os.environ.get("CC") \
	or sysconfig.get_config_var("CC")).split()[0])')
pgo:
	@if ! $(CC_NAME) --version 2>/dev/null | grep -q "Free Software Foundation"; then \
		echo "pgo: the C compiler is not GCC; the SIP parser keeps its plain build"; exit 0; fi; \
	set -e; rm -rf build/pgo; \
	echo "pgo: instrumented build, training run, profile-guided build of edge/_sipparse"; \
	PROVEDGE_PGO=generate $(PGO_BUILD); \
	$(BIN)/python benchmarks/pgo_workload.py; \
	PROVEDGE_PGO=use $(PGO_BUILD)

install: $(STAMP)

run: install
	$(BIN)/provedge run --data $(DATA)

test: install tools
	$(BIN)/python -m pytest

# Programs from the distribution that tests drive: promtool (Debian package prometheus)
# checks the /metrics output; sipp (sip-tester) and svwar/svcrack (sipvicious) are the real
# SIP clients the registrar is tested with; chromium runs the console's browser tests.
# Installed when missing and apt-get can (root); elsewhere those checks are skipped,
# saying why. --no-install-recommends: the tool, not a server.
tools:
	@command -v promtool >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends prometheus >/dev/null) \
		|| echo "tools: promtool not installed; its check will be skipped"; }
	@command -v sipp >/dev/null && command -v svwar >/dev/null || { [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null && (apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		sip-tester sipvicious >/dev/null) \
		|| echo "tools: sipp/sipvicious not installed; the registrar's SIP client tests need them"; }
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends chromium fonts-dejavu-core >/dev/null) \
		|| echo "tools: chromium not installed; the console's browser tests need it"; }

# The console's screenshots in docs/console/, taken by its browser tests (README shows them).
screenshots: install tools
	PROVEDGE_SCREENSHOTS=docs/console $(BIN)/python -m pytest -q tests/test_console_browser.py

# The compiled modules on the other interpreters the project supports (pyenv's 3.12 and
# 3.13): a venv per interpreter (.venv-3.12, .venv-3.13) with the package and its test
# extras installed editable (a plain build, no PGO: it builds the extensions in place, next
# to the default interpreter's, under that interpreter's ABI tag), then the accelerator
# tests, which include the ones asserting that the compiled modules loaded.
PYENV_ROOT ?= $(HOME)/.pyenv
OTHER_PYTHONS ?= 3.12.1 3.13.0
ACCEL_TESTS := tests/test_sipparse.py tests/test_sipparse_property.py \
	tests/test_sipparse_layout.py tests/test_sipparse_gc.py tests/test_fastrender.py \
	tests/test_httphead.py
test-pythons:
	@set -e; for version in $(OTHER_PYTHONS); do \
		venv=.venv-$${version%.*}; \
		echo "test-pythons: Python $$version in $$venv"; \
		[ -x $$venv/bin/python ] || $(PYENV_ROOT)/versions/$$version/bin/python3 -m venv $$venv; \
		$$venv/bin/pip install --quiet --upgrade pip setuptools wheel; \
		$$venv/bin/pip install --quiet -e '.[test]'; \
		$$venv/bin/python -m pytest $(ACCEL_TESTS); \
	done

bench: install
	$(BIN)/python -m pytest benchmarks --benchmark-enable --benchmark-only

# The edge against nginx at its best (open_file_cache on) serving the same bytes, with wrk
# (benchmarks/edge_vs_nginx.py): wrk and nginx come from the distribution when missing.
bench-edge: install
	@command -v wrk >/dev/null && command -v nginx >/dev/null || { [ "$$(id -u)" = 0 ] \
		&& command -v apt-get >/dev/null && (apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		wrk nginx-light >/dev/null) \
		|| { echo "bench-edge: wrk and nginx are needed (apt-get install wrk nginx-light)"; exit 2; }; }
	$(BIN)/python benchmarks/edge_vs_nginx.py --seconds $(or $(SECONDS),5)

# A headless locust run against a local provedge on free loopback ports: seeds PHONES
# phones, waits for their publish job, runs the SHAPE (storm, waves, steady), stops
# everything; CSV and HTML reports in loadtest/results/ (README, "Load tests"). locust is
# in the test extra, so `install` brings it (the `loadtest` extra names it alone).
PHONES  ?= 1000
SHAPE   ?= storm
WORKERS ?= 1
SIP ?= 0
loadtest: install
	$(BIN)/python -m loadtest.run --phones $(PHONES) --shape $(SHAPE) --workers $(WORKERS) \
		$(if $(filter 1 yes on,$(SIP)),--sip)

# The asyncio storm driver (loadtest/storm.py) instead of locust: PHONES phones boot
# within WINDOW seconds, a new connection per file; JSON report and PNG plot in
# loadtest/results/storm-driver-PHONES.{json,png}. SIP=1: each phone then registers
# (REGISTER, 401, REGISTER with its digest, 200), a step of its own in the report.
WINDOW ?= 10
storm: install
	$(BIN)/python -m loadtest.run --phones $(PHONES) --driver --window $(WINDOW) \
		--workers $(WORKERS) $(if $(filter 1 yes on,$(SIP)),--sip)

# The registrar's throughput (loadtest/register.py; docs/performance.md, "Registrar
# throughput"): provedge with one edge worker pinned to one core (taskset), ACCOUNTS
# accounts seeded, then REGISTERS authenticated registrations over UDP from the driver
# pinned to another core, in each MODE (preauth: a nonce per account, nc counting up;
# challenge: REGISTER, 401, REGISTER, 200; both); the figures printed, JSON reports in
# loadtest/results/register-MODE-ACCOUNTS.json, everything stopped.
ACCOUNTS  ?= 10000
REGISTERS ?= 200000
MODE      ?= both
IN_FLIGHT ?= 64
bench-register: install
	$(BIN)/python -m loadtest.run --phones $(ACCOUNTS) --register $(MODE) \
		--registers $(REGISTERS) --in-flight $(IN_FLIGHT)

# Coverage-guided fuzzing of the compiled SIP parser under AddressSanitizer: a separate
# clang build with libFuzzer instrumentation goes to build/fuzz and is loaded in place of
# the normal one; atheris ships the ASan + libFuzzer runtime that is preloaded.
FUZZ_SECONDS ?= 60
fuzz: install
	$(BIN)/pip install --quiet 'atheris>=2.3'
	command -v clang >/dev/null || (apt-get update -qq && apt-get install -y -qq clang)
	rm -rf build/fuzz build/fuzz-tmp
	PROVEDGE_SANITIZE=1 CC=clang LDSHARED="clang -shared" $(BIN)/python setup.py -q build_ext \
		--build-lib build/fuzz --build-temp build/fuzz-tmp
	LD_PRELOAD="$$($(BIN)/python -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so" \
		PYTHONMALLOC=malloc ASAN_OPTIONS=detect_leaks=0 PROVEDGE_FUZZ_LIB=build/fuzz \
		$(BIN)/python fuzz/fuzz_sipparse.py -max_total_time=$(FUZZ_SECONDS)

# ruff (lint + format check) and mypy --strict over the Python code.
lint: install
	$(BIN)/pip install --quiet ruff==0.17.6 mypy types-tqdm
	$(BIN)/ruff check control edge provedge tests loadtest
	$(BIN)/ruff format --check control edge provedge
	$(BIN)/mypy control edge provedge

clean:
	rm -rf build $(VENV) .venv-* edge/*.so edge/_*.c *.egg-info
