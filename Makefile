# ccbridge: `make run` starts everything, `make test` checks everything.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BOOT_PYTHON = $(shell ./scripts/find-python)
# DEBUG is off unless asked for (production's safe default); everything make starts here
# is a development run, against the simulator, unless the caller says otherwise.
DEV := DJANGO_DEBUG=$${DJANGO_DEBUG:-true}

.PHONY: install run migrate seed lint format test test-fast screenshots lock clean

$(VENV)/.installed: requirements.lock
	@test -x $(PY) || $(BOOT_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	@touch $@

install: $(VENV)/.installed

migrate: install
	$(DEV) $(PY) manage.py migrate --noinput

seed: migrate
	$(DEV) $(PY) manage.py seed_demo

run: seed
	$(DEV) $(PY) manage.py runstack

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The suite runs in two passes that together run every test once: all but the `serial`
# tests spread over TEST_WORKERS processes (pytest-xdist, each with its own database, var/
# folder and Celery queue), then the `serial` tests alone, as they time or kill processes.
# A pass with nothing to run (pytest's exit code 5) is no failure; both empty is one.
# The third argument names the passes to run (both unless told).
TEST_WORKERS ?= 2
define pytest_passes
status=0; ran=0; \
for pass in $(or $(3),parallel serial); do \
	if [ $$pass = parallel ]; then \
		$(PY) -m pytest -n $(TEST_WORKERS) -m "$(if $(1),($(1)) and )not serial" $(2); \
	else \
		$(PY) -m pytest -m "$(if $(1),($(1)) and )serial" $(2); \
	fi; \
	rc=$$?; \
	case $$rc in 0) ran=1 ;; 5) ;; *) status=$$rc ;; esac; \
done; \
if [ $$status -ne 0 ]; then exit $$status; fi; \
if [ $$ran -eq 0 ]; then echo "no tests ran" >&2; exit 5; fi
endef

# Browser tests need a Chromium: scripts/ensure-chromium finds or installs one, or says
# what to install, before any test runs.
test: lint
	@chromium=$$(./scripts/ensure-chromium $(PY)) || exit $$?; \
	export CHROMIUM_PATH="$$chromium"; \
	$(call pytest_passes,,)

# The quick loop while editing: no browser, no Celery worker, no simulator process, and
# the property and fuzz tests with a few examples each (tests/plugins/hypothesis_profiles.py).
# Every `serial` test starts a worker or a browser (tests/plugins/passes.py fails the run
# otherwise), so the quick loop has no serial pass to start.
test-fast: install
	@$(call pytest_passes,not browser and not worker and not simulator,--hypothesis-profile fast,parallel)

# Regenerate the lock file after changing dependencies in pyproject.toml.
lock: install
	$(PY) -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.12 --generate-hashes -o requirements.lock

# With `make run` going in another shell: refresh the README's screenshots.
screenshots: install
	$(DEV) $(PY) scripts/screenshots.py --extra automap=/mapping/automap/1/ rules=/rules/ rule=/rules/1/ \
		agent_rule=/agents/1/rule/ board=/board/ subscriptions=/subscriptions/ \
		chats=/chats/ chat=/chats/1/ setup=/setup/ alerts=/alerts/ \
		mailboxes=/mailboxes/

clean:
	rm -rf var/broker var/staticfiles var/celerybeat-schedule* .pytest_cache

# Performance figures against the floor (not tests: `make test` never runs them).
# Uses PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set; writes bench/results.json.
.PHONY: bench
bench: install
	$(DEV) $(PY) -m bench

# Both presence directions under load, then every agent checked against its rule: 5,000
# agents, 100 agent events/s and 50 Teams changes/s for 60 s (bounded; exits 1 on any lost
# event, refusal, dead delivery or mismatch, or a rate below 95% of the one asked). Shorter: make soak SOAK_ARGS="--agents 500 --seconds 10".
.PHONY: soak
soak: install
	$(DEV) $(PY) -m bench.soak $(SOAK_ARGS)
