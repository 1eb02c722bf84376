package chat

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-gitops/ferry"
)

// keyOrder puts the resources people look for first; others follow sorted.
var keyOrder = []string{"requests.cpu", "limits.cpu", "requests.memory", "limits.memory", "requests.storage"}

// orderedKeys returns the keys of the lists in keyOrder, then the rest sorted.
func orderedKeys(lists ...ferry.ResourceList) []string {
	seen := map[string]bool{}
	for _, l := range lists {
		for k := range l {
			seen[k] = true
		}
	}
	var out []string
	for _, k := range keyOrder {
		if seen[k] {
			out = append(out, k)
			delete(seen, k)
		}
	}
	return append(out, slices.Sorted(maps.Keys(seen))...)
}

// formatQuantity prints an amount in the unit its resource is counted in:
// CPU from millicores ("750m", "2"), memory and storage from bytes ("512Mi",
// "1.5Gi"), anything else as a count.
func formatQuantity(key string, v int64) string {
	neg := ""
	if v < 0 {
		neg, v = "-", -v
	}
	switch {
	case strings.HasSuffix(key, "cpu"):
		if v%1000 == 0 {
			return neg + strconv.FormatInt(v/1000, 10)
		}
		return neg + strconv.FormatInt(v, 10) + "m"
	case strings.HasSuffix(key, "memory") || strings.HasSuffix(key, "storage"):
		return neg + formatBytes(v)
	}
	return neg + strconv.FormatInt(v, 10)
}

// formatBytes uses the largest binary unit the amount reaches, one decimal
// where it does not divide evenly.
func formatBytes(v int64) string {
	units := []string{"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"}
	for i, u := range units {
		size := int64(1) << (10 * (len(units) - i))
		if v < size {
			continue
		}
		if v%size == 0 {
			return strconv.FormatInt(v/size, 10) + u
		}
		return strconv.FormatFloat(float64(v)/float64(size), 'f', 1, 64) + u
	}
	return strconv.FormatInt(v, 10)
}

// signed prints a delta with its sign: "+250m", "-128Mi".
func signed(key string, d int64) string {
	if d >= 0 {
		return "+" + formatQuantity(key, d)
	}
	return formatQuantity(key, d)
}

// summaryLines describes a release's resources against what runs now and
// against the namespace quota:
//
//	requests.cpu 750m (was 500m, +250m)
//	at max scale: requests.cpu 3, requests.memory 6Gi
//	quota requests.cpu: 1.25 of 4 after this release (31%)
func summaryLines(cur, prev *ferry.ResourceSummary) []string {
	if cur == nil {
		return nil
	}
	var lines []string
	var was ferry.ResourceList
	if prev != nil {
		was = prev.Requested
	}
	for _, k := range orderedKeys(cur.Requested, was) {
		now, before := cur.Requested[k], was[k]
		switch {
		case prev == nil:
			lines = append(lines, fmt.Sprintf("%s %s", k, formatQuantity(k, now)))
		case now == before:
			lines = append(lines, fmt.Sprintf("%s %s (unchanged)", k, formatQuantity(k, now)))
		default:
			lines = append(lines, fmt.Sprintf("%s %s (was %s, %s)", k, formatQuantity(k, now), formatQuantity(k, before), signed(k, now-before)))
		}
	}
	if len(cur.AtMaxScale) > 0 && !maps.Equal(cur.AtMaxScale, cur.Requested) {
		var parts []string
		for _, k := range orderedKeys(cur.AtMaxScale) {
			parts = append(parts, k+" "+formatQuantity(k, cur.AtMaxScale[k]))
		}
		lines = append(lines, "at max scale: "+strings.Join(parts, ", "))
	}
	lines = append(lines, quotaLines(cur, was)...)
	return lines
}

// quotaLines says how much of each quota'd resource the namespace will use
// once this release replaces the running one: live usage minus the running
// release plus this one when usage is known, else this release alone.
func quotaLines(cur *ferry.ResourceSummary, was ferry.ResourceList) []string {
	var lines []string
	for _, k := range orderedKeys(cur.Quota) {
		hard := cur.Quota[k]
		after := cur.Requested[k]
		basis := "for this release"
		if cur.Used != nil {
			after = cur.Used[k] - was[k] + cur.Requested[k]
			basis = "after this release"
		}
		line := fmt.Sprintf("quota %s: %s of %s %s", k, formatQuantity(k, after), formatQuantity(k, hard), basis)
		if hard > 0 {
			line += fmt.Sprintf(" (%d%%)", (after*100+hard/2)/hard)
		}
		if after > hard {
			line += " ⚠️ over quota"
		}
		lines = append(lines, line)
	}
	if len(lines) > 0 && cur.QuotaSource != "" {
		lines = append(lines, "quota source: "+cur.QuotaSource)
	}
	return lines
}
