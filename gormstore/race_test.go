//go:build race

package gormstore

// raceEnabled: the race detector changes escape analysis and adds
// allocations, so allocation budgets are checked without it (.ci/run runs
// them in a step of their own).
const raceEnabled = true
