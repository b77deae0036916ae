package redact

import "testing"

func TestAPIKey(t *testing.T) {
	checkText(t, onlyDetector(t, "api_key"), []textCase{
		// Provider prefixes.
		{"OPENAI_API_KEY sk-proj-Xk9mP2qR7vT4wZ8bN1cF5hJ3LdA6sE0yU2iO9gK", "OPENAI_API_KEY [API_KEY]"},
		{"legacy sk-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v2W3x4", "legacy [API_KEY]"},
		{"claude sk-ant-api03-Zx81_kQm2Lp9Vt4Rw7Ny3Bc6Hd0Jf5Gs8Ka1Pe4Ui7Oz2Xc9Vb6Nm3Lq0Wr5Ty8-AA", "claude [API_KEY]"},
		{"aws AKIAIOSFODNN7EXAMPLE.", "aws [API_KEY]."},
		{"temp ASIAY34FZKBOKMUTVV7A", "temp [API_KEY]"},
		{"gh token 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", "gh token [API_KEY]"},
		{"github_pat_11ABCDEFG0abcdefghijklmn_opqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678", "[API_KEY]"},
		{"slack xoxb-2401234567-2409876543210-AbCdEfGhIjKlMnOpQrStUvWx", "slack [API_KEY]"},
		{"stripe sk_live_51HqLyjWDarjtT1zdp7dcXYZ9abcDEF", "stripe [API_KEY]"},
		{"rk_live_4eC39HqLyjWDarjtT1zdp7dc", "[API_KEY]"},
		{"maps AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "maps [API_KEY]"},
		{"gitlab glpat-x7Yz9AbCdEfGhIjKlMnO", "gitlab [API_KEY]"},
		{"hf hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "hf [API_KEY]"},
		// Assignments.
		{"api_key=3f7a9c2e1b4d8f06", "api_key=[API_KEY]"},
		{"export API_KEY='a8f3k2m9q1w7e4r6'", "export API_KEY='[API_KEY]'"},
		{`{"apiKey": "d41d8cd98f00b204e980"}`, `{"apiKey": "[API_KEY]"}`},
		{`{\"apiKey\":\"d41d8cd98f00b204e980\"}`, `{\"apiKey\":\"[API_KEY]\"}`},
		{"X-Api-Key: 0a1b2c3d4e5f6a7b8c9d", "X-Api-Key: [API_KEY]"},
		{"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", "aws_secret_access_key = [API_KEY]\n"},
		{"client_secret=Qm9vdHN0cmFwU2VjcmV0 grant_type=client_credentials", "client_secret=[API_KEY] grant_type=client_credentials"},
		{"GET /v1/data?access_token=ya29a0AfH6SMBx3&format=json", "GET /v1/data?access_token=[API_KEY]&format=json"},
		// Near misses.
		{"pip install sk-learn-pipeline-transformer", "pip install sk-learn-pipeline-transformer"},
		{"sk-proj-short", "sk-proj-short"},
		{"ASIA-PACIFIC-REGION-2024-Q3", "ASIA-PACIFIC-REGION-2024-Q3"},
		{"AKIAIOSFODNN7EXAMPLEXYZ", "AKIAIOSFODNN7EXAMPLEXYZ"},
		{"pk_live_51HqLyjWDarjtT1zdp7dcXYZ9abcDEF", "pk_live_51HqLyjWDarjtT1zdp7dcXYZ9abcDEF"},
		{"api_key=os.getenv(\"OPENAI_API_KEY\")", "api_key=os.getenv(\"OPENAI_API_KEY\")"},
		{"api_key=settings.OPENAI_KEY", "api_key=settings.OPENAI_KEY"},
		{"api_key: str", "api_key: str"},
		{`"apiKey": null`, `"apiKey": null`},
		{"API_KEY=${OPENAI_API_KEY}", "API_KEY=${OPENAI_API_KEY}"},
		{"export OPENAI_API_KEY=${OPENAI_API_KEY:?missing}", "export OPENAI_API_KEY=${OPENAI_API_KEY:?missing}"},
		{"echo $API_KEY:fallback12", "echo $API_KEY:fallback12"},
		{"API_KEY=YOUR_API_KEY_HERE", "API_KEY=YOUR_API_KEY_HERE"},
		{"token=********", "token=********"},
		{"Token: the next step is to rotate it", "Token: the next step is to rotate it"},
		{"max_tokens=1024 and token_count: 5", "max_tokens=1024 and token_count: 5"},
		{"if token == expected_token:", "if token == expected_token:"},
		{`{"key": "environment", "value": "prod"}`, `{"key": "environment", "value": "prod"}`},
		{"api_key=short", "api_key=short"},
	})
}
