# Fovea developer entry points. `make run` and `make test` are the two set-up commands in the README.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
ADDRESS ?= 0.0.0.0:50051

.PHONY: deps configure build test run clean docker-test

deps:
	@scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

run: build
	$(BUILD_DIR)/bin/fovea-server --model-repository models --address $(ADDRESS)

# Builds docker/Dockerfile with podman, runs the image, classifies 100 PNGs through it with the host CLI (root needed).
docker-test: build
	docker/docker-test.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
