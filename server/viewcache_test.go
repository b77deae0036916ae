package server_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server"
	"github.com/agenttrail/agenttrail/server/redact"
)

// The developer view served from the cache of rendered views is the view
// masked anew, entry for entry, on the first read and on every later one;
// and the cache keeps within its budget.
func TestViewCacheServesTheSameView(t *testing.T) {
	red, err := redact.New(redact.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	cache := server.NewViewCache(64 << 10)
	views := map[string]server.View{
		"cached":   server.RedactedView{Redactor: red, Viewer: "dev", Cache: cache},
		"uncached": server.RedactedView{Redactor: red, Viewer: "dev"},
	}
	h := start(t, nil, server.WithViews(func(ctx context.Context) (server.View, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		return views[md.Get("x-view")[0]], nil
	}))
	evs := fresh()
	evs[0].GetSessionStart().UserMessage = "Mail me at jane.doe@example.com, card 4242 4242 4242 4242."
	if _, err := h.st.Append(context.Background(), "test", evs); err != nil {
		t.Fatal(err)
	}
	read := func(view string) []*agenttrailv1.Entry {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-view", view)
		stream, err := h.query.Query(ctx, &agenttrailv1.QueryRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var out []*agenttrailv1.Entry
		for {
			r, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r.GetEntry())
		}
	}
	want := read("uncached")
	for round := range 3 {
		got := read("cached")
		if len(got) != len(want) {
			t.Fatalf("round %d: %d entries, want %d", round, len(got), len(want))
		}
		for i := range got {
			if !proto.Equal(got[i], want[i]) {
				t.Errorf("round %d, entry %d: the cached view differs from the view masked anew", round, i)
			}
		}
	}
	if cache.Len() == 0 {
		t.Errorf("the cache holds nothing after three reads")
	}
	// A budget smaller than the log keeps the cache within it.
	small := server.NewViewCache(4 << 10)
	views["cached"] = server.RedactedView{Redactor: red, Viewer: "dev", Cache: small}
	read("cached")
	if n := small.Len(); n == 0 || n >= len(want) {
		t.Errorf("a 4 KiB cache holds %d of %d views", n, len(want))
	}
	if server.NewViewCache(0) != nil {
		t.Errorf("a zero budget makes a cache")
	}
}
