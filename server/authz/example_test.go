package authz_test

import (
	"fmt"

	"github.com/agenttrail/agenttrail/server/auth"
	"github.com/agenttrail/agenttrail/server/authz"
)

func ExampleAllowed() {
	fmt.Println(authz.Allowed("/agenttrail.v1.AppendService/Append", auth.Agent))
	fmt.Println(authz.Allowed("/agenttrail.v1.QueryService/Query", auth.Agent))
	fmt.Println(authz.Allowed("/agenttrail.v1.QueryService/Query", auth.Developer))
	// Output:
	// true
	// false
	// true
}
