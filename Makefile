# For the Python original's habits: make lambda-build handler=template
handler ?= template
arch ?= arm64

.PHONY: lambda-build dev test
lambda-build:
	go run ./cmd/devserver package $(handler) --arch $(arch)

dev:
	go run ./cmd/devserver

test:
	go test ./...
