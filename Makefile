# neurocore: the user-facing entry points.
#   make run    install deps, build, run the main job (neurocore pipeline configs/pipeline.yaml)
#   make test   install deps, build, run every test with ctest
#   make test-notorch  build the cm compiler core without LibTorch (build-notorch/), run its tests
#   make bench  build and run the benchmarks
#   make check-sanitize  build with AddressSanitizer + UBSan and run the unit tests
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: deps configure build run test test-notorch bench check-sanitize format clean

deps:
	./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DNC_BUILD_TESTS=ON $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

# The main job needs only the executable: the tests are built by `make test`.
run: configure
	cmake --build $(BUILD) -j$(JOBS) --target neurocore
	./$(BUILD)/neurocore pipeline configs/pipeline.yaml

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# NC_WITH_TORCH=OFF: only nc_base, nc_array_io, nc_int_model, nc_cm, the drivers of bench/cm and
# their tests (nc_cm_tests, nc_core_plain_tests).
test-notorch: deps
	cmake -S . -B build-notorch -DCMAKE_BUILD_TYPE=Release -DNC_WITH_TORCH=OFF -DNC_BUILD_TESTS=ON $(CMAKE_FLAGS)
	cmake --build build-notorch -j$(JOBS)
	cd build-notorch && ctest --output-on-failure -j$(JOBS)

bench: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DNC_BUILD_BENCH=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)
	./$(BUILD)/bench/nc_bench_snu

check-sanitize: deps
	cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNC_SANITIZE=address,undefined
	cmake --build build-sanitize -j$(JOBS)
	cd build-sanitize && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS)

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp')

clean:
	rm -rf $(BUILD) build-sanitize build-notorch
