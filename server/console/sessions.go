package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"sync"
	"time"

	"github.com/agenttrail/agenttrail/server/auth"
)

// session is one signed-in browser.
type session struct {
	principal auth.Principal // Expires: the earlier of the session's and the key's
	csrf      string
	ctx       context.Context // done when the session ends
	end       context.CancelFunc
}

// sessions holds the signed-in browsers by the SHA-256 of their token, so
// that a dump of the map holds no usable token.
type sessions struct {
	mu   sync.Mutex
	byID map[[32]byte]*session
	max  int
	now  func() time.Time
}

var errTooManySessions = errors.New("console: too many sessions")

func newSessions(max int, now func() time.Time) *sessions {
	return &sessions{byID: map[[32]byte]*session{}, max: max, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for p until expires, and returns its token.
func (s *sessions) create(p auth.Principal, expires time.Time) (string, *session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= s.max {
		s.sweepLocked()
		if len(s.byID) >= s.max {
			return "", nil, errTooManySessions
		}
	}
	if !p.Expires.IsZero() && p.Expires.Before(expires) {
		expires = p.Expires
	}
	p.Expires = expires
	// The session's calls end at its expiry, by the sessions' clock.
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(expires.Sub(s.now()), cancel)
	token := randomToken()
	sess := &session{principal: p, csrf: randomToken(), ctx: ctx, end: func() { timer.Stop(); cancel() }}
	s.byID[sha256.Sum256([]byte(token))] = sess
	return token, sess, nil
}

// lookup returns the live session of a token.
func (s *sessions) lookup(token string) (*session, bool) {
	id := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	if !s.now().Before(sess.principal.Expires) {
		sess.end()
		delete(s.byID, id)
		return nil, false
	}
	return sess, true
}

// remove ends the session of a token, if any.
func (s *sessions) remove(token string) {
	id := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.byID[id]; ok {
		sess.end()
		delete(s.byID, id)
	}
}

// sweepLocked drops expired sessions.
func (s *sessions) sweepLocked() {
	now := s.now()
	for id, sess := range s.byID {
		if !now.Before(sess.principal.Expires) {
			sess.end()
			delete(s.byID, id)
		}
	}
}

// sweep drops expired sessions.
func (s *sessions) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
}

// closeAll ends every session.
func (s *sessions) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sess := range s.byID {
		sess.end()
		delete(s.byID, id)
	}
}

// checkCSRF reports whether a request's token is the session's.
func (sess *session) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.csrf)) == 1
}
