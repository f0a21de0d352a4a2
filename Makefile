# Two commands on a fresh Debian 12 machine: `make demo` and `make test`.
# They install what they need: Debian packages (when root and missing) and a venv built from
# /usr/bin/python3, so the PostgreSQL service user can run the archive command from it.

SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)
DEBIAN_PACKAGES := postgresql postgresql-contrib openssh-server python3-venv chromium iptables default-jre-headless systemd poppler-utils
BENCH_PACKAGES := pgbackrest patroni etcd-server etcd-client stunnel4
# Three workers (pytest-xdist; lab tests wait on timeouts as much as they compute), whole files each; every worker its own lab address block (tests/conftest.py).
PYTEST_ARGS ?= -n 3 --dist loadfile

.PHONY: setup system-packages demo test lint typecheck unit lab bench bench-setup clean

setup: system-packages $(STAMP)

system-packages:
	@missing=""; \
	for pkg in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q --no-install-recommends $$missing >/dev/null \
	      || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null; }; \
	  else \
	    echo "missing Debian packages:$$missing (run as root or install them)"; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

demo: setup
	$(BIN)/crmdr demo

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

unit: setup
	$(BIN)/pytest -m "unit or adapters" $(PYTEST_ARGS)

lab: setup
	$(BIN)/pytest -m lab $(PYTEST_ARGS)

# Each benchmark brings up its own lab; `make bench BENCH="rto startup"` runs some of them,
# `make bench BENCH_QUICK=1` runs them on a 0.05 GB database instead of 1 GB.
bench: setup bench-setup
	BENCH_QUICK=$(BENCH_QUICK) $(BIN)/python -m benchmarks $(BENCH)

# The peers the benchmarks compare against: Debian's packages (when root and missing), barman-cloud from PyPI.
bench-setup: setup
	@$(MAKE) --no-print-directory system-packages DEBIAN_PACKAGES="$(BENCH_PACKAGES)"
	$(BIN)/python -m pip install -q -e '.[dev,bench]'


clean:
	-$(BIN)/crmdr lab down --purge 2>/dev/null
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
