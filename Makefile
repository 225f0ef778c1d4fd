# source-partoo: every task runs in .venv, created from constraints.txt by `make install`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BENCH_STAMP := $(VENV)/.bench-stamp

.PHONY: install test unit integration demo sync bench soak runtimes analytics-cost docker-test lock clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,demo]"
	touch $(STAMP)

## The whole suite: unit tests (mocked HTTP), integration and standard tests (the CLI against the emulator).
## Three workers on the 2-core machine: an integration test's worker mostly waits on the connector and the
## emulator it started (and on the connector's backoff in the fault tests), so two workers kept the cores
## 165 % busy and three 188 % (6:43 against 5:46 for the same suite, docs/performance.md); four cost more CPU
## (6:35). loadscope keeps each module on one worker (module fixtures, the standard suite's fixed port).
test: install faketime
	$(BIN)/python -m pytest -n 3 --dist loadscope

unit: install
	$(BIN)/python -m pytest -n 2 unit_tests

integration: install faketime
	$(BIN)/python -m pytest -n 3 --dist loadscope integration_tests

## Debian's faketime: the integration tests that run the emulator and the connector at fixed dates need it
## (integration_tests/conftest.py, clock_at). Installed once with apt-get, as root (as CI runs).
.PHONY: faketime
faketime:
	@command -v faketime >/dev/null || (apt-get update && apt-get install -y faketime)

## The main job: start the local Partoo emulator and sync every stream into data/demo.duckdb, the demo's
## own file (never the warehouse of `make sync`); DB=path.duckdb chooses another, STREAMS=a,b some streams.
## It runs the connector's check first; a failure prints the connector's sentence and exits 1.
demo: install
	$(BIN)/python -m warehouse.sync --demo $(if $(DB),--db $(DB)) $(if $(STREAMS),--streams '$(STREAMS)')

## The same against a real Partoo account, into data/warehouse.duckdb (incremental from the state PyAirbyte
## keeps there): make sync CONFIG=secrets/config.json [DB=path.duckdb] [STREAMS=a,b] [FULL_REFRESH=1].
## STREAMS syncs only the streams it names (PyAirbyte's stream selection), FULL_REFRESH=1 ignores their
## saved state. Either target first refuses, in one sentence and with exit status 1, a STREAMS name the
## connector does not have, and a file whose saved state came from another API (the demo's emulator,
## another base_url host, the other environment); an incremental sync also refuses a file whose streams it
## reads were read for fewer businesses than business_ids now names (FULL_REFRESH=1 reads them again).
sync: install
	@test -n "$(CONFIG)" || { echo "usage: make sync CONFIG=path/to/config.json [DB=path.duckdb] [STREAMS=a,b] [FULL_REFRESH=1]"; exit 2; }
	$(BIN)/python -m warehouse.sync --config $(CONFIG) $(if $(DB),--db $(DB)) $(if $(STREAMS),--streams '$(STREAMS)') $(if $(FULL_REFRESH),--full-refresh)

## Benchmarks: figures printed, never pass/fail on time (see docs/performance.md): bench.run (rate, CPU,
## memory, against dlt), then bench.cost (requests of incremental syncs). Adds the bench extra
## (dlt, the peer) to .venv; `make install` and `make test` never need it.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.cost

## Soak: successive incremental syncs of a live inbox, and a sync past airbyte-cdk's partition limit
## (figures for docs/reliability.md, never pass/fail).
soak: install
	$(BIN)/python -m bench.soak

## Both runtimes (issue #22): peak RSS, CPU and warnings of full and incremental syncs at 20,000 and
## 100,000 conversations, and every num_workers at 30,000 (figures for docs/performance.md, never
## pass/fail; over an hour on 2 cores).
runtimes: install
	$(BIN)/python -m bench.runtimes

## Analytics and reports (issue #24): requests per endpoint of a first and a second sync of the 8 new streams
## (500 businesses, two years of analytics), against their formulas, and the minutes each costs at Partoo's
## 300 requests a minute (figures for docs/performance.md, never pass/fail; about 10 minutes on 2 cores).
analytics-cost: install
	$(BIN)/python -m bench.analytics_cost

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,demo,bench]"
	touch $(BENCH_STAMP)

## Builds the connector image and runs spec, check and read against the emulator (needs a Docker daemon).
docker-test: install
	$(BIN)/python -m integration_tests.docker_smoke

## Freezes the bench environment too, so that constraints.txt pins the bench extra as well.
lock: $(BENCH_STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^source-partoo' > constraints.new
	{ head -3 constraints.txt; cat constraints.new; } > constraints.txt.tmp && mv constraints.txt.tmp constraints.txt && rm constraints.new

clean:
	rm -rf $(VENV) build *.egg-info .cache
