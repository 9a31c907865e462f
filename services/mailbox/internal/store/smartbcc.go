package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// smartBccTokenBytes is the entropy of a Smart Bcc token (80 bits: 16 base32 characters).
const smartBccTokenBytes = 10

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// SmartBccToken returns the company's Smart Bcc token (S4), creating a random
// one on first use. Concurrent first calls agree on one token.
func (s *Store) SmartBccToken(ctx context.Context, companyID int64) (string, error) {
	for range 3 {
		var tok string
		err := s.pool.QueryRow(ctx, `SELECT token FROM smartbcc_addresses WHERE company_id = $1`, companyID).Scan(&tok)
		if err == nil {
			return tok, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", err
		}
		b := make([]byte, smartBccTokenBytes)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		tok = strings.ToLower(tokenEncoding.EncodeToString(b))
		tag, err := s.pool.Exec(ctx, `INSERT INTO smartbcc_addresses (company_id, token) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			companyID, tok)
		if err != nil {
			return "", err
		}
		if tag.RowsAffected() == 1 {
			return tok, nil
		}
		// Another call created the company's token (or, astronomically
		// unlikely, the token exists): read again.
	}
	return "", fmt.Errorf("store: could not create a smart bcc token")
}

// SmartBccCompany returns the company whose Smart Bcc token is token
// (compared lower-case), or ErrNotFound.
func (s *Store) SmartBccCompany(ctx context.Context, token string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT company_id FROM smartbcc_addresses WHERE token = $1`, strings.ToLower(token)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	return id, err
}

// UserByAddress returns the user of the company one of whose addresses
// (account emails and verified addresses, see UserAddresses) is email
// (lower-case), or ErrNotFound. When several users share the address, the
// lowest user id wins, so the answer is deterministic.
func (s *Store) UserByAddress(ctx context.Context, companyID int64, email string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT min(user_id) FROM (
			SELECT user_id FROM mail_accounts WHERE company_id = $1 AND email = $2
			UNION ALL SELECT user_id FROM user_addresses WHERE company_id = $1 AND email = $2) u
		HAVING count(*) > 0`, companyID, email).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotFound
	}
	return id, err
}
