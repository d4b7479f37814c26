# The two commands: `make run` and `make test`. CI runs `make test` through .ci/run.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export JIXIAO_VAR ?= $(CURDIR)/var
HTMX_VERSION := 2.0.11
# axe-core checks every main page for accessibility in the browser tests; the test serves it
# to the page itself (the app never does), so it lives with the tests, not in static/.
AXE_VERSION := 4.14.1
AXE_JS := tests/e2e/vendor/axe.min.js

# Debian packages: WeasyPrint's Pango, HarfBuzz subsetting (without it PDFs take 15x
# longer), a CJK font (without it every character is an empty box), and npm for the
# browser assets; ClamAV's clamd scans evidence files (Debian ships no signatures: the
# project keeps a small database in docker/clamav, production uses freshclam or a mirror).
# Tests also need poppler-utils (pdffonts/pdftotext) and Chromium.
APT_RUN := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk fontconfig \
  clamav clamav-daemon \
  $(if $(shell command -v npm),,npm) \
  $(if $(shell $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null && echo ok),,python3-venv python3-pip)
APT_TEST := poppler-utils chromium wrk
STAMP_VENV := $(VENV)/.stamp-$(shell cat pyproject.toml | md5sum | cut -c1-12)

.PHONY: help run test setup system-packages system-packages-test venv assets test-assets db lint typecheck clean

help:
	@echo "make run   安装依赖、建库并载入演示数据，启动 web + worker + beat（http://127.0.0.1:5000）"
	@echo "make test  ruff、import-linter、mypy 与全部测试"

system-packages:
	@$(MAKE) --no-print-directory _apt PKGS="$(APT_RUN)"

system-packages-test:
	@$(MAKE) --no-print-directory _apt PKGS="$(APT_RUN) $(APT_TEST)"

_apt:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; \
	else echo "缺少系统软件包：$$missing"; echo "请先执行：sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; fi; \
	echo "安装系统软件包：$$missing"; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null

$(STAMP_VENV): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.stamp-*; touch $@

venv: $(STAMP_VENV)

workflow/static/vendor/htmx.min.js:
	mkdir -p $(JIXIAO_VAR)/npm workflow/static/vendor
	npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix $(JIXIAO_VAR)/npm htmx.org@$(HTMX_VERSION)
	cp $(JIXIAO_VAR)/npm/node_modules/htmx.org/dist/htmx.min.js $@

assets: workflow/static/vendor/htmx.min.js

$(AXE_JS):
	mkdir -p $(JIXIAO_VAR)/npm $(dir $(AXE_JS))
	npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix $(JIXIAO_VAR)/npm axe-core@$(AXE_VERSION)
	cp $(JIXIAO_VAR)/npm/node_modules/axe-core/axe.min.js $@

test-assets: $(AXE_JS)

setup: system-packages venv assets

db: setup
	@mkdir -p $(JIXIAO_VAR)
	@fresh=0; [ -n "$${DATABASE_URL:-}" ] || [ -f "$(JIXIAO_VAR)/jixiao.sqlite3" ] || fresh=1; \
	$(BIN)/flask --app wsgi init-db; \
	if [ $$fresh = 1 ]; then $(BIN)/flask --app wsgi demo $${DEMO_PASSWORD:+--password "$$DEMO_PASSWORD"}; fi

run: db
	@echo "启动：http://127.0.0.1:5000 （Ctrl-C 停止 web、worker 与 beat）"
	$(BIN)/honcho start -f Procfile

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy scoring workflow/machine.py

test: system-packages-test venv assets test-assets lint typecheck
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var workflow/static/vendor tests/e2e/vendor .pytest_cache .ruff_cache .mypy_cache
