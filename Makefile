# nfsha: `make lab` and `make test` set up everything they need on a fresh
# Debian machine (Debian packages, a virtualenv with the pinned Salt, the
# lab's box) and then do their job.

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
# The real programs the functional tests drive, and what they need.
HOST_PACKAGES := tgt keepalived ocfs2-tools open-iscsi libiscsi-bin qemu-utils \
	iproute2 util-linux fdisk kmod e2fsprogs iputils-ping
# The lab: Vagrant with libvirt, run by lab/ns without systemd.
LAB_PACKAGES := vagrant vagrant-libvirt libvirt-daemon-system qemu-system-x86 \
	qemu-utils dnsmasq-base
PYTEST_ARGS ?=
# The e2e tier in `make test`: auto (when lab/can-run-vms says this host can
# run the lab), yes (always: a lab that cannot start fails the run), no.
E2E ?= auto
$(if $(filter-out auto yes no,$(E2E)),$(error E2E must be auto, yes or no, not '$(E2E)'))

# The e2e tests test-e2e runs; make test (and so CI) leaves out those
# marked e2e_extended, to stay within CI's time (docs/testing.md).
E2E_TESTS ?= e2e

# make bench: each failover scenario this many times, per profile.
RUNS ?= 3

.PHONY: test test-unit test-functional test-e2e lab lab-down bench box host-packages lab-packages clean

# With the e2e tier, the lab's Debian packages and box are made while the
# unit and functional tiers run (downloads, dpkg, one short boot: a few
# minutes on a fresh machine, docs/testing.md); their output goes to
# LAB_PREP_LOG, shown when they fail.
LAB_PREP_LOG := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/nfsha/lab-prep.log

test: host-packages $(VENV)/.done
	@e2e=$(E2E); \
	if [ $$e2e = auto ]; then \
		if lab/can-run-vms; then e2e=yes; \
		else e2e=no; echo "make test: the e2e tier will not run: this host cannot run the lab (E2E=yes forces it)"; fi; \
	fi; \
	if [ $$e2e = yes ]; then \
		mkdir -p $(dir $(LAB_PREP_LOG)); \
		echo "make test: making the lab's packages and box meanwhile (log: $(LAB_PREP_LOG))"; \
		setsid --wait $(MAKE) --no-print-directory lab-packages box >$(LAB_PREP_LOG) 2>&1 & prep=$$!; \
		trap 'kill -TERM -- -$$prep 2>/dev/null; exit 130' INT TERM; \
	fi; \
	$(VENV_PY) -m pytest -m "not e2e" $(PYTEST_ARGS); tests=$$?; \
	if [ $$e2e = no ]; then \
		[ "$(E2E)" = no ] && echo "make test: the e2e tier did not run (E2E=no)"; exit $$tests; \
	fi; \
	wait $$prep || { cat $(LAB_PREP_LOG); echo "make test: the lab's packages or box failed (above)"; exit 1; }; \
	[ $$tests = 0 ] || exit $$tests; \
	$(MAKE) --no-print-directory test-e2e E2E_TESTS="e2e and not e2e_extended"

test-unit: $(VENV)/.done
	$(VENV_PY) -m pytest -m unit $(PYTEST_ARGS)

test-functional: host-packages $(VENV)/.done
	$(VENV_PY) -m pytest -m functional $(PYTEST_ARGS)

# The VM lab tier, all of it: replaces a running lab, removes it at the end.
test-e2e: lab-packages $(VENV)/.done
	$(VENV_PY) -m pytest -m "$(E2E_TESTS)" --durations=0 $(PYTEST_ARGS)

# The four VMs of pillar/nfsha.sls, converged by the orchestration (lab/up).
lab: lab-packages $(VENV)/.done
	lab/up

# The failover scenarios on the lab, with the formula's defaults and the
# proof of concept's settings: a table, and the JSON file it names last.
bench: lab-packages $(VENV)/.done
	$(VENV_PY) lab/bench --runs $(RUNS)

# The lab's VMs, master, libvirtd and namespaces, gone.
lab-down:
	lab/down

# The lab's Vagrant box, cached outside the checkout by its recipe's hash.
box:
	lab/box/build

# apt only when a package is missing: a second run starts at once.
install_missing = @missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages: $$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

host-packages:
	$(call install_missing,$(HOST_PACKAGES))

lab-packages:
	$(call install_missing,$(LAB_PACKAGES))

$(VENV)/.done: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install -q --upgrade pip
	$(VENV_PY) -m pip install -q -r requirements.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache
