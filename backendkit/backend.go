package backendkit

import "github.com/oauthstore/oauthstore/storage"

// Backend is what a complete backend implements: the storage contract,
// client management and stats. A backend asserts it once, next to its
// Store type:
//
//	var _ backendkit.Backend = (*Store)(nil)
type Backend interface {
	storage.Storage
	storage.ClientManager
	storage.StatsReporter
}
