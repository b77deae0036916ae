package redact

import "testing"

func TestHighEntropy(t *testing.T) {
	checkText(t, onlyDetector(t, "high_entropy"), []textCase{
		// Random tokens of unknown formats.
		{"token x9Kq2LmP4vT7wR1zB8nC5dF3 expires", "token [API_KEY] expires"},
		{"secret: Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MA==", "secret: [API_KEY]"},
		{"aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws [API_KEY]"},
		{"hooks.slack.com/services/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", "hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/[API_KEY]"},
		{`"session":"Ab3dE5gH7jK9mN1pQ3sT5vX7zB9"`, `"session":"[API_KEY]"`},
		// Near misses: identifiers, digests, paths, ids, words.
		{"sha256 9f2c4a1de0b7c1a3f5e6d7c8b9a0f1e2d3c4b5a6978877665544332211009988", "sha256 9f2c4a1de0b7c1a3f5e6d7c8b9a0f1e2d3c4b5a6978877665544332211009988"},
		{"commit 3b18e512dba79e4c8300dd08aeb37f8e728b8dad", "commit 3b18e512dba79e4c8300dd08aeb37f8e728b8dad"},
		{"uuid 01963a4e-7c1b-7000-8000-000000000001", "uuid 01963a4e-7c1b-7000-8000-000000000001"},
		{"trace 4BF92F3577B34DA6A3CE929D0E0E4736", "trace 4BF92F3577B34DA6A3CE929D0E0E4736"},
		{"func getUserAccountBalance2()", "func getUserAccountBalance2()"},
		{"class AbstractSingletonProxyFactoryBean2", "class AbstractSingletonProxyFactoryBean2"},
		{"TestRedactorEventMasks2Fields passed", "TestRedactorEventMasks2Fields passed"},
		{"Windows10EnterpriseLTSC2019", "Windows10EnterpriseLTSC2019"},
		{"/usr/local/lib/python3.11/site-packages/openai/_base_client.py", "/usr/local/lib/python3.11/site-packages/openai/_base_client.py"},
		{"src/components/UserProfile2Card.tsx", "src/components/UserProfile2Card.tsx"},
		{"id chatcmpl-9x8y7zAbC123dEf456GhI789", "id chatcmpl-9x8y7zAbC123dEf456GhI789"},
		{"tool toolu_01A09q90qw90lq917835lq9 and msg_01XFDUDYJgAACzvnptvVoYEL", "tool toolu_01A09q90qw90lq917835lq9 and msg_01XFDUDYJgAACzvnptvVoYEL"},
		{"call call_Zx81kQm2Lp9Vt4Rw7Ny3Bc6H", "call call_Zx81kQm2Lp9Vt4Rw7Ny3Bc6H"},
		{"integrity sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC", "integrity sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC"},
		{"tracking 1Z999AA10123456784 and JBSWY3DPEHPK3PXPJBSWY3DP", "tracking 1Z999AA10123456784 and JBSWY3DPEHPK3PXPJBSWY3DP"},
		{"Donaudampfschifffahrtsgesellschaftskapitaen", "Donaudampfschifffahrtsgesellschaftskapitaen"},
		{"kubernetes-1-28-node-pool-2", "kubernetes-1-28-node-pool-2"},
		{"short x9Kq2LmP4vT7wR1z", "short x9Kq2LmP4vT7wR1z"},
		{"[API_KEY] stays", "[API_KEY] stays"},
	})
}
