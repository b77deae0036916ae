package redact

import "testing"

func TestPassword(t *testing.T) {
	checkText(t, onlyDetector(t, "password"), []textCase{
		// URL credentials.
		{"DATABASE_URL=postgres://app:s3cr3t-Pa55@db.internal:5432/app", "DATABASE_URL=postgres://app:[PASSWORD]@db.internal:5432/app"},
		{"redis://:hunter2@cache:6379/0", "redis://:[PASSWORD]@cache:6379/0"},
		{"amqp://guest:p%40ss@mq/", "amqp://guest:[PASSWORD]@mq/"},
		{"https://deploy:ghp@ss@git.example.com/repo.git", "https://deploy:[PASSWORD]@git.example.com/repo.git"},
		// Assignments.
		{"password=hunter22", "password=[PASSWORD]"},
		{"DB_PASSWORD: 'correct horse battery staple'", "DB_PASSWORD: '[PASSWORD]'"},
		{`{"passwd":"Tr0ub4dor&3"}`, `{"passwd":"[PASSWORD]"}`},
		{"PGPASSWORD=pg_s3cret psql -h db", "PGPASSWORD=[PASSWORD] psql -h db"},
		{"smtp_pwd: zq8Lm2\n", "smtp_pwd: [PASSWORD]\n"},
		{"MYSQL_PASSWORD=Tr0ub4dor&3 mysqld", "MYSQL_PASSWORD=[PASSWORD] mysqld"},
		{"/login?user=bob&password=s3cr3t&next=/home", "/login?user=bob&password=[PASSWORD]&next=/home"},
		// Near misses.
		{"https://example.com/path?q=1", "https://example.com/path?q=1"},
		{"ssh://git@github.com/org/repo", "ssh://git@github.com/org/repo"},
		{"postgres://app:${DB_PASSWORD}@db/app", "postgres://app:${DB_PASSWORD}@db/app"},
		{"postgres://app:[PASSWORD]@db/app", "postgres://app:[PASSWORD]@db/app"},
		{"Password: must be at least 12 characters", "Password: must be at least 12 characters"},
		{"password: str", "password: str"},
		{"password=***", "password=***"},
		{"reset_password_url: /account/reset", "reset_password_url: /account/reset"},
		{"forgot password? click here", "forgot password? click here"},
		{"password=abc", "password=abc"},
	})
}

func TestTextURLPasswordHoldingAt(t *testing.T) {
	r := defaultRedactor(t)
	in := "https://deploy:ghp@ss@git.example.com/repo.git"
	if got, want := r.Text(in), "https://deploy:[PASSWORD]@git.example.com/repo.git"; got != want {
		t.Errorf("Text(%q) = %q, want %q (the host is not an email address)", in, got, want)
	}
}
