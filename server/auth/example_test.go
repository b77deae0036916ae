package auth_test

import (
	"context"
	"fmt"

	"github.com/agenttrail/agenttrail/server/auth"
)

func ExampleFromContext() {
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Name: "audit-carol", Role: auth.Compliance})
	p, _ := auth.FromContext(ctx)
	fmt.Println(p.Name, p.Role, p.Role.Human())
	// Output: audit-carol compliance true
}
