package main

// version is set at release time (goreleaser: -ldflags "-X main.version=…");
// `acquire --version` prints it.
var version = "dev"
