package backendkit

import (
	"context"
	"fmt"

	"github.com/oauthstore/oauthstore/models"
	"github.com/oauthstore/oauthstore/storage"
)

// StartCreateCode does for
// [storage.AuthorizationCodeStore.CreateAuthorizationCode] what every
// backend must do before it writes: it returns ctx's error if ctx is done,
// and validates code ([Credentials.NormalizeAuthorizationCode]).
func (c Credentials) StartCreateCode(ctx context.Context, op string, code *models.AuthorizationCode) (models.AuthorizationCode, error) {
	if err := CtxErr(ctx, op); err != nil {
		return models.AuthorizationCode{}, err
	}
	n, err := c.NormalizeAuthorizationCode(code)
	if err != nil {
		return models.AuthorizationCode{}, fmt.Errorf("%s: %w", backendOf(op), err)
	}
	return n, nil
}

// StartCreateToken does for [storage.TokenStore.CreateToken] what every
// backend must do before it writes: it returns ctx's error if ctx is done,
// and validates t ([Credentials.NormalizeToken]).
func (c Credentials) StartCreateToken(ctx context.Context, op string, t *models.Token) (models.Token, error) {
	if err := CtxErr(ctx, op); err != nil {
		return models.Token{}, err
	}
	n, err := c.NormalizeToken(t)
	if err != nil {
		return models.Token{}, fmt.Errorf("%s: %w", backendOf(op), err)
	}
	return n, nil
}

// StartRotate does for [storage.TokenStore.RotateToken] what every backend
// must do before it looks the old pair up: it returns ctx's error if ctx is
// done, validates next ([Credentials.NormalizeSuccessor]), and answers
// [storage.ErrNotFound] for an empty refreshToken, which no pair has.
func (c Credentials) StartRotate(ctx context.Context, op, refreshToken string, next *models.Token) (models.Token, error) {
	if err := CtxErr(ctx, op); err != nil {
		return models.Token{}, err
	}
	n, err := c.NormalizeSuccessor(next)
	if err != nil {
		return models.Token{}, fmt.Errorf("%s: %w", backendOf(op), err)
	}
	if refreshToken == "" {
		return models.Token{}, fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return n, nil
}
