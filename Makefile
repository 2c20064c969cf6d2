# Two commands for a fresh machine:  `make run` (install + start the portal)  and  `make test` (install + all tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501
API_PORT ?= 8000

.PHONY: run api serve serve-stop test lint browser train thumbnails bench clean

run: $(VENV)/.runtime
	$(BIN)/streamlit run Home.py --server.port $(PORT)

# The HTTP API on http://127.0.0.1:$(API_PORT) (docs at /docs); set PORTAL_API_KEYS before exposing it.
api: $(VENV)/.runtime
	$(BIN)/python -m api --port $(API_PORT)

# The models on a local Ray Serve (bounded CPUs and object store): the HTTP API's routes and KServe v2 at
# http://127.0.0.1:$(SERVE_PORT); point a portal at it with PORTAL_INFERENCE_URL. `make serve-stop` ends it.
SERVE_PORT ?= 8100
SERVE_CPUS ?= 2
$(VENV)/.serve: requirements-serve.txt $(VENV)/.runtime
	$(BIN)/pip install -q -r requirements-serve.txt
	touch $@

serve: $(VENV)/.serve
	$(BIN)/python -m serving start --port $(SERVE_PORT) --cpus $(SERVE_CPUS)

serve-stop: $(VENV)/.serve
	$(BIN)/python -m serving stop

test: $(VENV)/.dev browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-train.txt requirements-serve.txt requirements-dev.txt requirements-nodeps.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	touch $@ $(VENV)/.runtime $(VENV)/.serve

# Debian's Chromium for the browser test (never a browser downloaded by Playwright).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "The browser test needs Debian's chromium: sudo apt-get install -y chromium"; fi; }

# Rebuild one demo's models (DEMO=housing) and print its benchmark.
train: $(VENV)/.dev
	$(BIN)/python -m training $(DEMO)

# Home's card pictures from the current models (after any `make train`).
thumbnails: $(VENV)/.dev
	$(BIN)/python -m training thumbnails

bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks $(DEMO)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
