package authz

import (
	"slices"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/server/auth"
)

// readers are the roles that read the trail, each in its own view:
// developers redacted, compliance in full, admins metadata only.
var readers = []auth.Role{auth.Developer, auth.Compliance, auth.Admin}

// Table lists, for every RPC of agenttrail's API by full method name, the
// roles that may call it. A test walks every method of every service
// against every role.
var Table = map[string][]auth.Role{
	agenttrailv1.AppendService_Append_FullMethodName: {auth.Agent},
	// OTLP trace export (gRPC, and the same rule for OTLP/HTTP): spans
	// become events appended within the agent key's scope.
	coltracepb.TraceService_Export_FullMethodName: {auth.Agent},

	agenttrailv1.QueryService_Query_FullMethodName:    readers,
	agenttrailv1.QueryService_GetEvent_FullMethodName: readers,
	// Session summaries are metadata only.
	agenttrailv1.QueryService_ListSessions_FullMethodName: readers,

	agenttrailv1.LogService_GetCheckpoint_FullMethodName:       readers,
	agenttrailv1.LogService_GetInclusionProof_FullMethodName:   readers,
	agenttrailv1.LogService_GetInclusionProofs_FullMethodName:  readers,
	agenttrailv1.LogService_GetConsistencyProof_FullMethodName: readers,
	agenttrailv1.LogService_GetVerifierKey_FullMethodName:      readers,
	// A backup holds every event's content: the full view only.
	agenttrailv1.LogService_Backup_FullMethodName: {auth.Compliance},

	// Statistics come from metadata only: every reading role may ask.
	agenttrailv1.StatsService_Stats_FullMethodName: readers,

	agenttrailv1.AdminService_CreateKey_FullMethodName: {auth.Admin},
	agenttrailv1.AdminService_ListKeys_FullMethodName:  {auth.Admin},
	agenttrailv1.AdminService_RevokeKey_FullMethodName: {auth.Admin},

	agenttrailv1.LifecycleService_Erase_FullMethodName:          {auth.Compliance, auth.Admin},
	agenttrailv1.LifecycleService_PlaceHold_FullMethodName:      {auth.Admin},
	agenttrailv1.LifecycleService_ReleaseHold_FullMethodName:    {auth.Admin},
	agenttrailv1.LifecycleService_ListHolds_FullMethodName:      {auth.Compliance, auth.Admin},
	agenttrailv1.LifecycleService_GetRetention_FullMethodName:   {auth.Compliance, auth.Admin},
	agenttrailv1.LifecycleService_SetRetention_FullMethodName:   {auth.Admin},
	agenttrailv1.LifecycleService_ApplyRetention_FullMethodName: {auth.Admin},
}

// Allowed reports whether a role may call a method. Methods missing from
// Table are allowed to no one.
func Allowed(method string, role auth.Role) bool {
	return slices.Contains(Table[method], role)
}
