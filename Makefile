# The two commands a fresh machine needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run stop test check-run lint fmt ci

help:
	@echo "make run    # the whole platform locally (PostgreSQL included), Ctrl-C to stop"
	@echo "make test   # every test against a private PostgreSQL"
	@echo "make stop   # stop what make run started"
	@echo "make lint   # rustfmt and clippy as CI runs them"

run:
	@scripts/run.sh

stop:
	@scripts/run.sh stop

test:
	@scripts/test.sh

check-run:
	@scripts/check-run.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

ci:
	@bash .ci/run

# Static checks of deploy/ (image and Kubernetes manifests); installs what it needs.
.PHONY: validate-deploy
validate-deploy:
	@scripts/validate-deploy.sh
