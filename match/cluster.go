package match

import (
	"cmp"
	"slices"
)

// Link is a scored pair.
type Link struct {
	A, B   int
	Weight float64
}

// Clusters groups records linked with a weight of at least threshold, strongest links first.
// Joining two groups of which one has more than one record needs more than the link itself:
// the average weight over every pair across the two groups must reach the threshold too, so
// that a chain of look-alikes (A like B, B like C) does not join A and C when they are not
// alike. The links refused that way are returned for review.
func (m *Model) Clusters(records []Record, links []Link, threshold float64) (clusters [][]int, refused []Link) {
	clusters, _, refused = m.ClusterLinks(records, links, threshold)
	return clusters, refused
}

// ClusterLinks is Clusters that also returns the links that joined the clusters: a spanning
// forest of them, strongest links first, each at or above the threshold.
func (m *Model) ClusterLinks(records []Record, links []Link, threshold float64) (clusters [][]int, joined, refused []Link) {
	parent := make([]int, len(records))
	members := make(map[int][]int, len(records))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	group := func(x int) []int {
		if g, ok := members[x]; ok {
			return g
		}
		return []int{x}
	}
	sorted := slices.Clone(links)
	slices.SortFunc(sorted, func(a, b Link) int {
		return cmp.Or(cmp.Compare(b.Weight, a.Weight), cmp.Compare(a.A, b.A), cmp.Compare(a.B, b.B))
	})
	for _, l := range sorted {
		if l.Weight < threshold {
			break
		}
		ra, rb := find(l.A), find(l.B)
		if ra == rb {
			continue
		}
		ga, gb := group(ra), group(rb)
		if len(ga) > 1 || len(gb) > 1 {
			var sum float64
			for _, x := range ga {
				for _, y := range gb {
					w, _ := m.Weight(records[x], records[y])
					sum += w
				}
			}
			if sum/float64(len(ga)*len(gb)) < threshold {
				refused = append(refused, l)
				continue
			}
		}
		parent[rb] = ra
		joined = append(joined, l)
		members[ra] = append(append([]int{}, ga...), gb...)
		delete(members, rb)
	}
	for root, g := range members {
		if find(root) == root && len(g) > 1 {
			slices.Sort(g)
			clusters = append(clusters, g)
		}
	}
	slices.SortFunc(clusters, func(a, b []int) int { return cmp.Compare(a[0], b[0]) })
	return clusters, joined, refused
}
