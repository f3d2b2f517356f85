package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// The registry manifest declares the protocol the provider serves: a
// registry that read another would offer the provider to Terraform
// versions that cannot speak to it.
func TestRegistryManifest(t *testing.T) {
	data, err := os.ReadFile("../../terraform-registry-manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Version  int `json:"version"`
		Metadata struct {
			ProtocolVersions []string `json:"protocol_versions"`
		} `json:"metadata"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d.0", protocolVersion)
	if m.Version != 1 || len(m.Metadata.ProtocolVersions) != 1 || m.Metadata.ProtocolVersions[0] != want {
		t.Fatalf("manifest %+v, want version 1 and protocol %s", m, want)
	}
}

// The release configuration keeps the names the registries look for
// (goreleaser check validates the rest of it, offline, in make test).
func TestReleaseNamesFollowTheRegistry(t *testing.T) {
	data, err := os.ReadFile("../../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(data)
	for _, want := range []string{
		"project_name: terraform-provider-acquire",
		`binary: "{{ .ProjectName }}_v{{ .Version }}"`,
		`name_template: "{{ .ProjectName }}_{{ .Version }}_{{ .Os }}_{{ .Arch }}"`,
		`name_template: "{{ .ProjectName }}_{{ .Version }}_SHA256SUMS"`,
		`name_template: "{{ .ProjectName }}_{{ .Version }}_manifest.json"`,
		"glob: terraform-registry-manifest.json",
		"--detach-sign",
		"-X main.version={{ .Version }}",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf(".goreleaser.yaml lacks %s", want)
		}
	}
	for _, f := range []string{"../../LICENSE", "../../CHANGELOG.md"} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	lic, _ := os.ReadFile("../../LICENSE")
	if !strings.Contains(string(lic), "Apache License") || !strings.Contains(string(lic), "Version 2.0, January 2004") ||
		!strings.Contains(string(lic), "END OF TERMS AND CONDITIONS") {
		t.Error("LICENSE is not the Apache License 2.0 text")
	}
}
