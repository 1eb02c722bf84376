package deploy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"
)

// RenderRulesVersion names the rules by which ferry turns a revision into a
// manifest. Bump it when those rules change in a way the manifest alone does
// not show, so every environment is applied again once.
const RenderRulesVersion = "ferry-render/1"

// Digest identifies what would be applied: the manifest (hooks included),
// the release name and namespace, the capabilities the chart could see and
// the render rules. It is stable across runs and machines: API versions are
// sorted and de-duplicated first, and every field is length-prefixed so no
// two different inputs hash alike. The form is "sha256:" and 64 hex digits.
func Digest(manifest, release, namespace string, caps *Capabilities) string {
	h := sha256.New()
	field(h, RenderRulesVersion)
	field(h, release)
	field(h, namespace)
	if caps != nil {
		field(h, caps.KubeVersion)
		field(h, caps.Major)
		field(h, caps.Minor)
		apis := slices.Compact(slices.Sorted(slices.Values(caps.APIVersions)))
		binary.Write(h, binary.BigEndian, uint64(len(apis)))
		for _, a := range apis {
			field(h, a)
		}
	}
	field(h, manifest)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func field(h hash.Hash, s string) {
	binary.Write(h, binary.BigEndian, uint64(len(s)))
	h.Write([]byte(s))
}
