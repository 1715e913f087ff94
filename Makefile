# ctid developer entry points. `make demo` and `make test` set everything up first (apt + pip).
PY ?= python3

.PHONY: setup demo dsp-demo run test test-all bench talkoff clean

setup:
	./scripts/install-deps.sh
	# compat editable mode: the checkout goes on sys.path, so twistd finds twisted/plugins/ctid_plugin.py
	$(PY) -m pip install -q -e '.[test,fast]' --config-settings editable_mode=compat

demo: setup
	$(PY) -m ctid demo

dsp-demo: setup
	$(PY) -m ctid dsp demo

run: setup
	$(PY) -m ctid run

test: setup
	$(PY) -m pytest -q

# Everything, including the slow soak/corpus tests, as CI runs it.
test-all: setup
	CTID_TEST_PG_URL="$$(./scripts/start-postgres.sh | tail -n 1)" CTID_RUNSLOW=1 CTID_REQUIRE_PEERS=1 $(PY) -m pytest -q

bench: setup
	$(PY) bench/bench_dsp.py

talkoff: setup
	$(PY) bench/talkoff.py

clean:
	rm -rf build *.egg-info ctid/dsp/_native*.so ctid/dsp/_native.c .pytest_cache
