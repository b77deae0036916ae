package authz_test

import (
	"context"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/authz"
)

// want is the whole access matrix, written out independently of Table:
// every method of every service, every role.
var want = map[string]map[auth.Role]bool{
	"/agenttrail.v1.AppendService/Append":                         {auth.Agent: true},
	"/opentelemetry.proto.collector.trace.v1.TraceService/Export": {auth.Agent: true},
	"/agenttrail.v1.QueryService/Query":                           {auth.Developer: true, auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.QueryService/GetEvent":                        {auth.Developer: true, auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.QueryService/ListSessions":                    {auth.Developer: true, auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.LogService/GetCheckpoint":                     {auth.Developer: true, auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.LogService/GetInclusionProof":                 {auth.Developer: true, auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.LogService/GetInclusionProofs":                {auth.Developer: true, auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.LogService/GetConsistencyProof":               {auth.Developer: true, auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.LogService/GetVerifierKey":                    {auth.Developer: true, auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.LogService/Backup":                            {auth.Compliance: true},
	"/agenttrail.v1.StatsService/Stats":                           {auth.Developer: true, auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.AdminService/CreateKey":                       {auth.Admin: true},
	"/agenttrail.v1.AdminService/ListKeys":                        {auth.Admin: true},
	"/agenttrail.v1.AdminService/RevokeKey":                       {auth.Admin: true},
	"/agenttrail.v1.LifecycleService/Erase":                       {auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.LifecycleService/PlaceHold":                   {auth.Admin: true},
	"/agenttrail.v1.LifecycleService/ReleaseHold":                 {auth.Admin: true},
	"/agenttrail.v1.LifecycleService/ListHolds":                   {auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.LifecycleService/GetRetention":                {auth.Compliance: true, auth.Admin: true},
	"/agenttrail.v1.LifecycleService/SetRetention":                {auth.Admin: true},
	"/agenttrail.v1.LifecycleService/ApplyRetention":              {auth.Admin: true},
}

// methods lists every RPC of every agenttrail service, from the generated
// descriptors, so a new RPC cannot slip past the table.
func methods() []string {
	var out []string
	for _, sd := range []grpc.ServiceDesc{
		agenttrailv1.AppendService_ServiceDesc,
		agenttrailv1.QueryService_ServiceDesc,
		agenttrailv1.LogService_ServiceDesc,
		agenttrailv1.AdminService_ServiceDesc,
		agenttrailv1.LifecycleService_ServiceDesc,
		agenttrailv1.StatsService_ServiceDesc,
		coltracepb.TraceService_ServiceDesc,
	} {
		for _, m := range sd.Methods {
			out = append(out, "/"+sd.ServiceName+"/"+m.MethodName)
		}
		for _, s := range sd.Streams {
			out = append(out, "/"+sd.ServiceName+"/"+s.StreamName)
		}
	}
	return out
}

func TestEveryMethodTimesEveryRole(t *testing.T) {
	ms := methods()
	if len(ms) != len(want) {
		t.Errorf("the services have %d methods, the expected matrix %d: add the new method to want and to authz.Table", len(ms), len(want))
	}
	for _, m := range ms {
		if _, ok := authz.Table[m]; !ok {
			t.Errorf("%s is missing from authz.Table (and so denied to everyone)", m)
		}
		for _, r := range auth.Roles {
			if got := authz.Allowed(m, r); got != want[m][r] {
				t.Errorf("Allowed(%s, %s) = %v, want %v", m, r, got, want[m][r])
			}
		}
	}
}

func TestUnknownMethodIsDenied(t *testing.T) {
	for _, r := range auth.Roles {
		if authz.Allowed("/agenttrail.v1.QueryService/DropEverything", r) {
			t.Errorf("an RPC missing from the table is allowed to %s", r)
		}
	}
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "a", Role: auth.Admin})
	_, err := authz.UnaryServerInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/agenttrail.v1.QueryService/DropEverything"},
		func(context.Context, any) (any, error) { return nil, nil })
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("interceptor on an unknown method: %v, want PermissionDenied", err)
	}
}

func TestInterceptorLeavesHealthOpen(t *testing.T) {
	_, err := authz.UnaryServerInterceptor()(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"},
		func(context.Context, any) (any, error) { return "ok", nil })
	if err != nil {
		t.Errorf("health check without a principal: %v, want it open", err)
	}
	_, err = authz.UnaryServerInterceptor()(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/agenttrail.v1.QueryService/GetEvent"},
		func(context.Context, any) (any, error) { return "ok", nil })
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetEvent without a principal: %v, want Unauthenticated", err)
	}
}
