//go:build !race

package gormstore

const raceEnabled = false
