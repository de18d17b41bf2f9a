# The two commands a fresh machine needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run stop test check-run quickstart-check lint fmt ci

help:
	@echo "make run    # the whole platform locally (PostgreSQL included) with a demo, Ctrl-C to stop"
	@echo "            # FAULTLINE_DEMO=0 make run: without the demo"
	@echo "make test   # every test against a private PostgreSQL"
	@echo "make stop   # stop what make run started"
	@echo "make lint   # rustfmt, clippy and the dependency policy as CI runs them"
	@echo "make bench  # benchmark suite (release builds), writes bench/REPORT.md"

run:
	@scripts/run.sh

stop:
	@scripts/run.sh stop

test:
	@scripts/test.sh

check-run:
	@scripts/check-run.sh

.PHONY: bench
bench:
	@scripts/bench.sh

# make run, the README's Quickstart verbatim, make stop, make run again.
quickstart-check:
	@scripts/quickstart-check.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	scripts/deny.sh

fmt:
	cargo fmt --all

ci:
	@bash .ci/run

# Static checks of deploy/ (image and Kubernetes manifests); installs what it needs.
.PHONY: validate-deploy
validate-deploy:
	@scripts/validate-deploy.sh
