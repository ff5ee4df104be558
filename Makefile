# Thin wrapper over CMake presets; see README.md. `make` builds build/logwarden (optimised).
.PHONY: all build deps test run demo-parse fuzz fuzz-build bench clean

FUZZ_SECONDS ?= 60

all: build

deps:
	@bash scripts/install-deps.sh

build:
	@cmake --preset release >/dev/null
	@cmake --build --preset release

# Sanitizer build (ASan + UBSan, -Werror) and every test.
test: deps
	cmake --preset dev >/dev/null
	cmake --build --preset dev
	ctest --preset dev

# The main job on the embedded default: the daemon with its defaults, fed by the demo generator
# (RUN_SECONDS=120 by default; RUN_SECONDS=0 runs until Ctrl-C).
run: deps build
	@bash scripts/run-demo.sh

# The parse stage alone on a demo log: the template table.
demo-parse: build
	@./build/logwarden demo --lines 200000 --seed 1 > build/demo.log
	./build/logwarden parse --output none --templates --top 30 build/demo.log

fuzz-build: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz

# Runs every fuzz target for FUZZ_SECONDS seconds each, seeded from tests/data/fuzz/<target>.
fuzz: fuzz-build
	@bash scripts/run-fuzz.sh build/fuzz $(FUZZ_SECONDS)

bench: build
	bash bench/parse-throughput.sh

clean:
	rm -rf build
