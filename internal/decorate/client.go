package decorate

import "github.com/oauthstore/oauthstore/models"

// ClientOf, CodeClientOf and TokenClientOf return the client ID a record
// names, "" for a nil record: the client attribute of a call's span, metric
// or log line.
func ClientOf(c *models.Client) string {
	if c == nil {
		return ""
	}
	return c.ClientID
}

// CodeClientOf: see [ClientOf].
func CodeClientOf(c *models.AuthorizationCode) string {
	if c == nil {
		return ""
	}
	return c.ClientID
}

// TokenClientOf: see [ClientOf].
func TokenClientOf(t *models.Token) string {
	if t == nil {
		return ""
	}
	return t.ClientID
}
