# nfsha: `make test` sets up everything it needs on a fresh Debian machine
# (Debian packages of the real tools, a virtualenv with the pinned Salt) and
# runs the unit and functional tiers.

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
# The real programs the functional tests drive, and what they need.
HOST_PACKAGES := tgt keepalived ocfs2-tools open-iscsi libiscsi-bin qemu-utils \
	iproute2 util-linux fdisk kmod e2fsprogs iputils-ping
PYTEST_ARGS ?=

.PHONY: test test-unit test-functional host-packages clean

test: host-packages $(VENV)/.done
	$(VENV_PY) -m pytest -m "not e2e" $(PYTEST_ARGS)

test-unit: $(VENV)/.done
	$(VENV_PY) -m pytest -m unit $(PYTEST_ARGS)

test-functional: host-packages $(VENV)/.done
	$(VENV_PY) -m pytest -m functional $(PYTEST_ARGS)

# apt only when a package is missing: a second `make test` starts at once.
host-packages:
	@missing=$$(for p in $(HOST_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages: $$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

$(VENV)/.done: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install -q --upgrade pip
	$(VENV_PY) -m pip install -q -r requirements.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache
