// Package didyoumean finds the known name a mistyped one was meant to be,
// for error messages of the loaders that read what people write (inventory,
// vendor mappings).
package didyoumean

// Closest returns the name of known nearest to s when it is at most max
// edits away, else "". Ties go to the earlier name.
func Closest(s string, known []string, max int) string {
	best, bestD := "", max+1
	for _, k := range known {
		if d := Distance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// Distance is the optimal-string-alignment distance between a and b: the
// typos people make, insertions, deletions, substitutions and swapped
// neighbours, one edit each. Names longer than 64 bytes are never close.
func Distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	pprev := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], pprev[j-2]+1) // transposition
			}
		}
		pprev, prev, cur = prev, cur, pprev
	}
	return prev[len(b)]
}
