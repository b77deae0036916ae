package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
)

// changes tells the engine when any server committed: every commit's
// transaction sends NOTIFY agenttrail_log (delivered at COMMIT, in commit
// order), and a dedicated connection LISTENs through pgxlisten, which
// reconnects after an outage and signals once more when it has (a commit
// made while it was away is then seen). A periodic wake-up covers anything
// else; on CockroachDB, which has no LISTEN/NOTIFY, it is the only signal
// and runs every 50 ms.
type changes struct {
	ch     chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// pollInterval is the wake-up period beside LISTEN; pollOnly without it.
const (
	pollInterval = time.Second
	pollOnly     = 50 * time.Millisecond
)

func startChanges(d *Driver, connCfg *pgx.ConnConfig) *changes {
	ctx, cancel := context.WithCancel(context.Background())
	c := &changes{ch: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	poll := pollInterval
	var l *pgxlisten.Listener
	if d.cockroach {
		poll = pollOnly
	} else {
		l = &pgxlisten.Listener{
			Connect: func(ctx context.Context) (*pgx.Conn, error) {
				return pgx.ConnectConfig(ctx, connCfg.Copy())
			},
			LogError: func(ctx context.Context, err error) {
				if ctx.Err() == nil {
					d.log.Warn("postgres: listening for commits", slog.Any("error", err))
				}
			},
			ReconnectDelay: 250 * time.Millisecond,
		}
		l.Handle(notifyChannel, handler{c})
	}
	go func() {
		defer close(c.done)
		listened := make(chan struct{})
		if l != nil {
			go func() {
				defer close(listened)
				l.Listen(ctx)
			}()
		} else {
			close(listened)
		}
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				<-listened
				return
			case <-t.C:
				c.signal()
			}
		}
	}()
	return c
}

func (c *changes) signal() {
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

func (c *changes) stop() {
	c.cancel()
	<-c.done
}

// handler signals on every notification, and after each (re)connection.
type handler struct{ c *changes }

func (h handler) HandleNotification(context.Context, *pgconn.Notification, *pgx.Conn) error {
	h.c.signal()
	return nil
}

func (h handler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.c.signal()
	return nil
}

// Changes implements store.SharedDriver.
func (d *Driver) Changes() <-chan struct{} {
	if d.changes == nil {
		return nil // read-only: nothing to follow
	}
	return d.changes.ch
}
