# Two entry points: `make run` (set up + start the dashboard) and `make test` (set up + whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test browser screenshot lint bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

run: setup
	$(PY) -m streamlit run dashboard/app.py

# Debian's Chromium drives the real-browser test (browser downloads are not possible offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: setup browser
	$(PY) -m pytest -q

# The README's picture: the browser test's view of the results, copied only when asked for.
screenshot: setup browser
	$(PY) -m pytest -q tests/test_e2e_browser.py
	cp test-artifacts/e2e/results.png docs/screenshot.png

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache
