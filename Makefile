# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each one sets up .venv first; re-running setup is a no-op while requirements.txt is unchanged.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements.stamp
WORKDIR ?= workdir/quickstart
DEMO_ARGS ?=

export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup browser demo test test-all clean

setup: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The report's browser tests load report.html in headless Chromium (Debian's package): installed
# once per machine when absent (about 80 s on a fresh one; a no-op when present).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  echo "Installing chromium for the report's browser test..."; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    chromium >/dev/null; }

demo: setup
	$(PY) -m launch.run --config=experiments/configs/quickstart.py$(DEMO_ARGS) --workdir=$(WORKDIR)

test: setup browser
	$(PY) -m pytest -q -n 2 -m "not slow" tests

test-all: setup browser
	$(PY) -m pytest -q -n 2 tests

clean:
	rm -rf $(VENV) workdir
