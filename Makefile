# make demo: set up everything and run the main job on the default model and images.
# make test: set up everything and run the whole test suite (C++ and Python).
# Both are idempotent: a second run only redoes what changed.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build/python
CPP_SOURCES := $(shell find cpp -name '*.cpp' -o -name '*.h' -o -name '*.inc' 2>/dev/null) \
               $(shell find tests/cpp -name '*.cpp' -o -name '*.h' -o -name '*.inc' 2>/dev/null)
JOBS ?= $(shell nproc)

.PHONY: setup demo test test-cpp test-asan test-python test-heavy lint clean

setup: $(VENV)/.built .venv-converters/.built

# Older converters (onnx-tf, onnxmltools) pin frameworks that conflict with the main
# environment; each gets an environment of its own (see envs/ and the README).
.venv-converters/.built: scripts/converter_envs.sh $(wildcard envs/*.txt)
	bash scripts/converter_envs.sh
	mkdir -p .venv-converters && touch $@

$(VENV)/.bootstrapped: scripts/bootstrap.sh requirements.txt requirements-nodeps.txt \
                       requirements-converters.txt requirements-converters-nodeps.txt
	bash scripts/bootstrap.sh
	touch $@

# scikit-build-core builds the extension and the C++ tests in $(BUILD), incrementally.
$(VENV)/.built: $(VENV)/.bootstrapped pyproject.toml CMakeLists.txt $(CPP_SOURCES)
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) $(PY) -m pip install -q --no-build-isolation --no-deps -e .
	touch $@

demo: setup
	$(VENV)/bin/convmend demo

test: setup lint test-cpp test-asan test-python

test-cpp: setup
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The C++ tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: setup
	cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 \
	  -DCONVMEND_SANITIZE=ON >/dev/null
	cmake --build build/asan -j $(JOBS)
	cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# The suite writes about 2 GB of models (zoo cache, converted files, pytest's temporary
# folders); a full disk shows up as unrelated failures or an abort inside a framework, so say
# it first.
test-python: setup
	@free=$$(df -Pk /tmp "$$HOME" | awk 'NR > 1 {print int($$4 / 1048576)}' | sort -n | head -1); \
	if [ "$$free" -lt 3 ]; then \
	  echo "test: only $$free GB free on /tmp or $$HOME; the suite needs about 3 GB" >&2; exit 1; \
	fi; echo "test: $$free GB free on /tmp and $$HOME"
	$(PY) -m pytest -q -m "not heavy" --durations=15 tests/python

# Each third-party converter on its own (the reduced matrix of `make test` already runs one
# chain per cell through them) and the engine's exactness and round trips on ResNet101 and
# InceptionV3 (MobileNetV2's run in make test); about 20 minutes more.
test-heavy: setup
	$(PY) -m pytest -q -m heavy tests/python

lint: setup
	$(VENV)/bin/ruff check python tests/python bench

clean:
	rm -rf build $(VENV)/.built
