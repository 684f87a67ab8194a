# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each one sets up .venv first; re-running setup is a no-op while requirements.txt is unchanged.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp
WORKDIR ?= workdir/quickstart
DEMO_ARGS ?=

export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup demo test test-all clean

setup: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: setup
	$(PY) -m launch.run --config=experiments/configs/quickstart.py$(DEMO_ARGS) --workdir=$(WORKDIR)

test: setup
	$(PY) -m pytest -q -n 2 -m "not slow" tests

test-all: setup
	$(PY) -m pytest -q -n 2 tests

clean:
	rm -rf $(VENV) workdir
