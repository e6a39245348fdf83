# depl: the two entry points of the README, and their parts.
#   make demo   set up this machine and deploy testapp (build, install, preview, promote)
#   make test   set up this machine and run every test suite
SHELL := /bin/bash
CONFIG ?= depl.yml
HOST ?=
DEPL := node bin/depl.js -c $(CONFIG)
DEPLOY_PACKAGES := docker.io docker-registry debootstrap git curl ca-certificates openssl
TEST_PACKAGES := nginx supervisor openssh-server openssh-client wrk curl chromium libnss3-tools

.PHONY: setup_deploy setup_appserver registry_gc demo test test-unit test-integration test-e2e bench services-stop fresh

## The deploy machine: npm deps, depl on PATH, Docker Engine and the image registry (127.0.0.1 only) running, base image.
setup_deploy:
	scripts/install-packages.sh $(DEPLOY_PACKAGES)
	@if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci --no-audit --no-fund; fi
	npm run --silent build
	@[ "$$(readlink -f "$$(command -v depl 2>/dev/null)")" = "$$(readlink -f bin/depl.js)" ] || npm link --no-audit --no-fund >/dev/null
	scripts/services.sh start docker registry
	$(DEPL) images bootstrap

## Frees the registry's layers no version needs any more (remove and prune delete versions' tags); stops it meanwhile.
registry_gc:
	scripts/services.sh registry-gc

## An app server (the machine in $(CONFIG), or HOST=user@address[:port], or HOST=<name> of one of its hosts).
setup_appserver: setup_deploy
	$(DEPL) setup $(if $(HOST),--host $(HOST))

## The main job on this machine: build testapp, install it, show its preview URL, promote it.
demo: setup_appserver
	scripts/demo.sh $(CONFIG)

## Every suite: typecheck, unit, integration (real nginx, supervisord, Docker, sshd) beside test:prepare
## (builds the images the later suites share, one at a time), then end to end, the example apps,
## reliability and browser (Chromium) side by side (each has its own apps), then several hosts
## (containers) beside the guarded canary, HTTPS (edge) and the fault points (depl killed at every step),
## then the restarts suite alone (it stops and starts the machine's services).
test: setup_appserver
	scripts/install-packages.sh $(TEST_PACKAGES)
	npm run --silent typecheck
	npm run --silent test:unit
	scripts/run-suites.sh "npm run test:integration" "npm run test:prepare" -- \
	  "npm run test:e2e" "npm run test:apps" "npm run test:reliability" "npm run test:browser" -- \
	  "npm run test:hosts" "npm run test:canary" "npm run test:edge" "npm run test:faults" -- \
	  "npm run test:restarts"

test-unit:
	npm run --silent typecheck && npm run --silent test:unit

bench: setup_appserver
	scripts/install-packages.sh $(TEST_PACKAGES)
	npm run --silent bench

## This machine as CI meets a fresh one: depl's containers, images (apps, base image, test host, the
## builds' layers), registry data, node_modules and npm's cache removed; services stopped. Packages stay.
## Then `CI=true bash .ci/run` gives a fresh machine's figures. Removes every app depl runs here.
fresh:
	scripts/fresh.sh

## Stops only the services that scripts/services.sh started.
services-stop:
	scripts/services.sh stop
