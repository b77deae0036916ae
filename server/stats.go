package server

import (
	"context"
	"slices"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
	"github.com/agenttrail/agenttrail/store/sketch"
)

type statsService struct {
	agenttrailv1.UnimplementedStatsServiceServer
	s *Server
}

// Stats implements agenttrailv1.StatsServiceServer. It reads metadata only,
// so every reading role may call it; the developer view, which does not
// show other readers' access records, gets no statistics of access events.
func (ss *statsService) Stats(ctx context.Context, req *agenttrailv1.StatsRequest) (*agenttrailv1.StatsResponse, error) {
	s := ss.s
	view, err := s.cfg.views(ctx)
	if err != nil {
		return nil, err
	}
	q, err := storeQuery(&agenttrailv1.QueryRequest{Filter: req.GetFilter()})
	if err != nil {
		return nil, statusError(ctx, s.log, err)
	}
	sq := store.StatsQuery{Filter: q.Filter}
	switch req.GetInterval() {
	case agenttrailv1.StatsInterval_STATS_INTERVAL_UNSPECIFIED:
	case agenttrailv1.StatsInterval_STATS_INTERVAL_HOUR:
		sq.Interval = time.Hour
	case agenttrailv1.StatsInterval_STATS_INTERVAL_DAY:
		sq.Interval = 24 * time.Hour
	default:
		return nil, statusError(ctx, s.log, badRequest("interval", "must be a defined StatsInterval"))
	}
	if len(req.GetGroupBy()) > 5 {
		return nil, statusError(ctx, s.log, badRequest("group_by", "at most 5 dimensions"))
	}
	for _, d := range req.GetGroupBy() {
		dim, ok := map[agenttrailv1.StatsDimension]store.Dimension{
			agenttrailv1.StatsDimension_STATS_DIMENSION_AGENT: store.ByAgent,
			agenttrailv1.StatsDimension_STATS_DIMENSION_MODEL: store.ByModel,
			agenttrailv1.StatsDimension_STATS_DIMENSION_TOOL:  store.ByTool,
			agenttrailv1.StatsDimension_STATS_DIMENSION_USER:  store.ByUser,
			agenttrailv1.StatsDimension_STATS_DIMENSION_KIND:  store.ByKind,
		}[d]
		if !ok {
			return nil, statusError(ctx, s.log, badRequest("group_by", "each dimension must be a defined StatsDimension other than STATS_DIMENSION_UNSPECIFIED"))
		}
		if !slices.Contains(sq.GroupBy, dim) {
			sq.GroupBy = append(sq.GroupBy, dim)
		}
	}
	if view.Kind() == agenttrailv1.ViewKind_VIEW_KIND_REDACTED {
		access := agenttrailv1.EventKind_EVENT_KIND_ACCESS
		if slices.Contains(sq.Filter.Kinds, access) {
			return nil, status.Error(codes.PermissionDenied, "filter.kinds: the developer view does not show other readers' access records, so it gives no statistics of them")
		}
		if len(sq.Filter.Kinds) == 0 {
			for v := range agenttrailv1.EventKind_name {
				if k := agenttrailv1.EventKind(v); k != agenttrailv1.EventKind_EVENT_KIND_UNSPECIFIED && k != access {
					sq.Filter.Kinds = append(sq.Filter.Kinds, k)
				}
			}
			slices.Sort(sq.Filter.Kinds)
		}
	}
	res, err := s.st.Stats(ctx, sq)
	if err != nil {
		return nil, statusError(ctx, s.log, err)
	}
	out := &agenttrailv1.StatsResponse{FromAggregates: res.FromAggregates}
	for _, r := range res.Rows {
		row := &agenttrailv1.StatsRow{
			AgentId: r.Key.Agent, Model: r.Key.Model, ToolName: r.Key.Tool, UserId: r.Key.User, Kind: r.Key.Kind,
			Events: r.Totals.Events, Failures: r.Totals.Failures,
			InputTokens: r.Totals.InputTokens, OutputTokens: r.Totals.OutputTokens,
			CacheReadInputTokens: r.Totals.CacheReadTokens, CacheCreationInputTokens: r.Totals.CacheCreationTokens,
			ReasoningOutputTokens: r.Totals.ReasoningTokens,
			LlmCalls:              r.LLMCalls, LlmLatency: percentiles(&r.LLMLatency),
			ToolCalls: r.ToolCalls, ToolDuration: percentiles(&r.ToolDurations),
		}
		if !r.Start.IsZero() {
			row.BucketStart = timestamppb.New(r.Start)
		}
		if r.Totals.Events > 0 {
			row.ErrorRate = float64(r.Totals.Failures) / float64(r.Totals.Events)
		}
		currencies := make([]string, 0, len(r.Totals.Cost))
		for c := range r.Totals.Cost {
			currencies = append(currencies, c)
		}
		sort.Strings(currencies)
		for _, c := range currencies {
			row.Cost = append(row.Cost, &agenttrailv1.Cost{CurrencyCode: c, Micros: r.Totals.Cost[c]})
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

// percentiles summarizes a sketch, or is nil when it holds nothing.
func percentiles(sk *sketch.Sketch) *agenttrailv1.DurationPercentiles {
	if sk.Count() == 0 {
		return nil
	}
	return &agenttrailv1.DurationPercentiles{
		Count: sk.Count(),
		P50:   durationpb.New(sk.Quantile(0.5)),
		P95:   durationpb.New(sk.Quantile(0.95)),
		P99:   durationpb.New(sk.Quantile(0.99)),
		Max:   durationpb.New(sk.Quantile(1)),
	}
}
