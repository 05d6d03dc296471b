# distroforge.openstack — one entry point for users, developers and CI.
#   make        bootstrap this Debian 12 machine (packages, .venv, collection link)
#   make run    the pipeline on the bundled example distro, locally
#   make test   lint + sanity + unit + molecule + e2e (what CI runs)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := bootstrap

TOP := $(CURDIR)
VENV := $(TOP)/.venv
# The venv first, then Debian's tools ahead of any pyenv shims (dpkg-buildpackage
# and sbuild must see Debian's python3).
export PATH := $(VENV)/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export ANSIBLE_CONFIG := $(TOP)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(VENV)/collections
export ANSIBLE_FORCE_COLOR := $(if $(CI),0,1)
export PYTHONDONTWRITEBYTECODE := 1

# Where `make run` keeps its state, repositories, reports and logs.
WORKDIR ?= $(TOP)/build/run
SANITY_ROOT := $(TOP)/build/sanity/ansible_collections/distroforge/openstack
# Which files sanity sees; `make sanity SANITY_FILES='git ls-files -z --cached'` checks only what is staged.
SANITY_FILES := git ls-files -z --cached --others --exclude-standard

EXAMPLE := $(TOP)/build/example
# What `make reproduce` redoes: build, test, or both.
REPRODUCE ?= build,test
EXAMPLE_PKGDB := $(EXAMPLE)/rdoinfo/rdo-full.yml

.PHONY: release-day bootstrap run reproduce test lint sanity unit molecule e2e bench docs lock clean help example slow fresh-root

help:
	@sed -n '2,5p' Makefile

bootstrap:
	@bash tools/bootstrap.sh

# The example distro's upstream and distgit repositories, made from PyPI sdists
# (downloaded once into ~/.cache/distroforge/sdists).
example: bootstrap $(EXAMPLE_PKGDB)
$(EXAMPLE_PKGDB): examples/distro/make_upstreams.py examples/distro/upstreams.json $(shell find examples/distro/packaging -type f)
	python3 examples/distro/make_upstreams.py $(EXAMPLE)

# Every playbook run of a work dir is recorded by ARA in <work dir>/ara/ansible.sqlite (served at /ara/,
# docs/run_records.md); ARA=0 turns it off, and without ara in the venv runs go on unrecorded.
ARA ?= 1
ARA_CALLBACKS = $(if $(filter 1,$(ARA)),$(shell $(VENV)/bin/python -m ara.setup.callback_plugins 2>/dev/null))
ara_env = $(if $(ARA_CALLBACKS),ANSIBLE_CALLBACK_PLUGINS=$(ARA_CALLBACKS) \
  ANSIBLE_ACTION_PLUGINS=$(patsubst %/callback,%/action,$(ARA_CALLBACKS)) \
  ARA_API_CLIENT=offline ARA_BASE_DIR=$(1)/ara ARA_DATABASE_NAME=$(1)/ara/ansible.sqlite)

run: bootstrap $(EXAMPLE_PKGDB)
	$(call ara_env,$(WORKDIR)) ansible-playbook playbooks/pipeline.yml -e distroforge_workdir=$(WORKDIR) -e distroforge_pkgdb=$(EXAMPLE_PKGDB)

# Rebuild and/or re-test what a run did, from its manifest (every run prints this):
#   make reproduce MANIFEST=build/run/runs/<run id>/manifest.json [REPRODUCE=build|test]
reproduce: bootstrap
	@test -n "$(MANIFEST)" || { echo "make reproduce: give MANIFEST=<workdir>/runs/<run id>/manifest.json"; exit 2; }
	ansible-playbook playbooks/reproduce.yml -e distroforge_manifest=$(abspath $(MANIFEST)) -e distroforge_reproduce=$(REPRODUCE)

test: bootstrap
	$(MAKE) --no-print-directory lint
	@# sanity (mostly pylint, CPU) runs beside the unit tests (mostly waiting on builds and nodes): its tree is
	@# copied first, so files the tests write cannot reach it; its output is printed when both have ended.
	$(MAKE) --no-print-directory sanity-tree
	@$(MAKE) --no-print-directory sanity-run > $(TOP)/build/sanity.log 2>&1 & sanity=$$!; \
	  unit=0; $(MAKE) --no-print-directory unit || unit=$$?; \
	  wait $$sanity && echo "== sanity passed" || { cat $(TOP)/build/sanity.log; echo "== sanity failed"; exit 1; }; \
	  exit $$unit
	$(MAKE) --no-print-directory molecule
	$(MAKE) --no-print-directory e2e
	@echo "make test: all passed; skips CI accepts (tests/allowed_skips.yml):"
	@python -c 'import yaml; a = yaml.safe_load(open("tests/allowed_skips.yml"))["allowed"] or []; \
	  print("\n".join("  %s: %s" % (e["reason"], e["why"]) for e in a) or "  none: every test ran")'

# Release day on the example distro (docs/release.md "Release day"): zed released at its pins and a fresh
# node deployed from its release package alone, then a newer upstream tag -> bump -> reqcheck -> tagged
# build -> gate (deploy + Tempest on a podman node) -> testing -> release -> release package -> upgrade
# test of that node, each step timed (part of `make slow`; make test runs it reduced, without the gate).
#   make release-day [RELEASE_DAY_ARGS='--packages keystone --no-gate']
RELEASE_DAY_ARGS ?=
release-day: bootstrap
	python tools/release_day.py $(RELEASE_DAY_ARGS)

# The slow lane: what takes too long for every landing. Run it before a landing
# that adds a system tool, and report its figures.
#   fresh-root   bootstrap + the unit suite in a new minimal Debian 12 root
#   closure-mirror  repo_closure against the real bookworm main Packages index (dose-debcheck over ~63,000 packages)
#   node-cloud-fake  node_provision's openstack driver against a fake cloud on loopback (create, failure cleanup, absent)
#   bisect-tempest  bisect_test.yml names a planted packaging commit that breaks a Tempest test (one podman node)
#   vm-scenario  the pipeline's test half (scenario001 + Tempest identity smoke) on a TCG VM node, stage times printed (~1 h)
#   release-day  release day with the gate, the release package on a fresh node and the upgrade test (three podman deploys)
slow: fresh-root closure-mirror node-cloud-fake bisect-tempest vm-scenario release-day

.PHONY: vm-scenario
vm-scenario: bootstrap $(EXAMPLE_PKGDB)
	pytest tests/slow/test_vm_scenario.py -q -s

.PHONY: bisect-tempest
bisect-tempest: bootstrap
	pytest tests/slow/test_bisect_tempest.py -q

.PHONY: node-cloud-fake
node-cloud-fake: bootstrap
	pytest tests/slow/test_node_cloud_fake.py -q

.PHONY: closure-mirror
closure-mirror: bootstrap
	pytest tests/slow/test_repo_closure_mirror.py -q

fresh-root: bootstrap
	bash tools/fresh_root_check.sh $(TOP)/build/fresh-root

lint: bootstrap
	ruff check .
	ruff format --check .
	yamllint --strict .
	ansible-lint --profile production
	python tools/role_readme.py --check

# ansible-test must run from .../ansible_collections/<ns>/<name>; it gets a
# fresh copy of the tracked and new files each time (nothing stale survives),
# in a git repository of its own so our .gitignore of build/ does not hide it.
sanity: bootstrap
	$(MAKE) --no-print-directory sanity-tree
	$(MAKE) --no-print-directory sanity-run

.PHONY: sanity-tree sanity-run
sanity-tree: bootstrap
	rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	$(SANITY_FILES) | rsync -a --from0 --files-from=- ./ $(SANITY_ROOT)/

sanity-run: bootstrap
	cd $(SANITY_ROOT) && git init -q && git add -A && ansible-test sanity --python 3.11 --requirements --color $(if $(CI),no,yes)

# The example distro's sdists and repositories are test data too (tests/unit/test_example_distro.py).
unit: bootstrap $(EXAMPLE_PKGDB)
	pytest tests/unit

# Every scenario runs; MOLECULE_EXCLUDE="a b" leaves some out while developing.
MOLECULE_EXCLUDE ?=
molecule: bootstrap
	@for scenario in $$(ls molecule/*/molecule.yml | xargs -n1 dirname | xargs -n1 basename | grep -vx shared); do \
	  case " $(MOLECULE_EXCLUDE) " in *" $$scenario "*) echo "== molecule: $$scenario skipped (MOLECULE_EXCLUDE)"; continue;; esac; \
	  echo "== molecule test -s $$scenario"; molecule test -s $$scenario || exit 1; done

# The pipeline end to end on a reduced example distro (Keystone only, identity
# smoke tests), from a clean state, then a bit-identical rebuild from its manifest.
e2e: bootstrap $(EXAMPLE_PKGDB)
	pytest tests/e2e -v

bench: bootstrap
	python bench/run.py

docs: bootstrap
	python tools/role_readme.py

# Re-resolve the pinned venv from requirements/python.in.
lock: bootstrap
	rm -rf build/lock && /usr/bin/python3 -m venv build/lock
	build/lock/bin/pip install -q -r requirements/python.in
	{ echo "# Full lock of the project venv (pip freeze). Regenerate with: make lock"; \
	  build/lock/bin/pip freeze | grep -v '^pkg_resources'; } > requirements/python.lock

clean:
	rm -rf build .pytest_cache .ruff_cache
