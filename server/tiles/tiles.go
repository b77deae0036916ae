// Package tiles serves the log read-only as C2SP tlog-tiles, so that
// standard transparency tooling (witnesses, monitors, torchwood's client)
// can follow it: the checkpoint at /checkpoint (cosigned when witnesses
// cosigned it) and hash tiles at /tile/<L>/<N>[.p/<W>]. Entry bundles
// (/tile/entries/...) are not served: the leaves' headers are the trail's
// metadata, which only authenticated readers may see.
//
// It is meant for the one HTTP listener of serve (docs: CONTRACTS, "One
// HTTP listener"): mux.Handle("GET /checkpoint", h) and
// mux.Handle("GET /tile/", h).
package tiles

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"filippo.io/torchwood"

	"github.com/agenttrail/agenttrail/store"
)

// Handler serves the checkpoint and hash tiles of a store. cosigned, when
// not nil, returns the newest checkpoint witnesses cosigned, served in
// place of the latest when both are of the same tree.
func Handler(st *store.Store, cosigned func() store.Checkpoint, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkpoint", func(w http.ResponseWriter, r *http.Request) {
		cp := st.LatestCheckpoint()
		if cosigned != nil {
			if c := cosigned(); c.Note != nil && c.Size == cp.Size && c.Root == cp.Root {
				cp = c
			}
		}
		if cp.Note == nil {
			http.Error(w, "the log is empty: no checkpoint has been signed yet", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(cp.Note)
	})
	mux.HandleFunc("GET /tile/", func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/")
		if strings.HasPrefix(path, "tile/entries/") {
			http.Error(w, "entry bundles are not served: the leaves hold the trail's metadata; read it through the Query API", http.StatusNotFound)
			return
		}
		t, err := torchwood.ParseTilePath(path)
		if err != nil || t.H != store.TileHeight || t.L < 0 {
			http.Error(w, "not a tile path: /tile/<L>/<N>[.p/<W>] with tiles of height 8", http.StatusNotFound)
			return
		}
		data, err := st.ReadTile(r.Context(), uint64(t.L), uint64(t.N), t.W)
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidArgument):
			http.Error(w, "no such tile in the tree of the latest checkpoint", http.StatusNotFound)
			return
		case err != nil:
			log.Error("reading a tile failed", slog.String("tile", path), slog.Any("error", err))
			http.Error(w, "reading the tile failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if t.W == 1<<store.TileHeight {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		w.Write(data)
	})
	return mux
}
