package redact

import "testing"

func TestIP(t *testing.T) {
	checkText(t, onlyDetector(t, "ip"), []textCase{
		// IPv4, private and loopback included.
		{"client 203.0.113.42 connected", "client [IP] connected"},
		{"dial tcp 10.0.0.12:5432: connection refused", "dial tcp [IP]:5432: connection refused"},
		{"allow 192.168.1.0/24.", "allow [IP]/24."},
		{"curl http://127.0.0.1:8080/health", "curl http://[IP]:8080/health"},
		{"X-Forwarded-For: 198.51.100.7, 10.1.2.3", "X-Forwarded-For: [IP], [IP]"},
		{"0.0.0.0", "[IP]"},
		{"range 10.0.0.1-10.0.0.255", "range [IP]-[IP]"},
		// IPv6.
		{"from 2001:db8::1 via fe80::1%eth0", "from [IP] via [IP]"},
		{"[2001:db8:85a3::8a2e:370:7334]:443", "[[IP]]:443"},
		{"loopback ::1 only", "loopback [IP] only"},
		{"mapped ::ffff:192.0.2.1", "mapped [IP]"},
		{"full 2001:0db8:85a3:0000:0000:8a2e:0370:7334.", "full [IP]."},
		{"hexspeak dead:beef::cafe", "hexspeak [IP]"},
		// Near misses.
		{"version 1.2.3 and v1.2.3.4", "version 1.2.3 and v1.2.3.4"},
		{"Python 3.11.4", "Python 3.11.4"},
		{"1.2.3.4.5", "1.2.3.4.5"},
		{"256.1.1.1 and 1.1.1.256", "256.1.1.1 and 1.1.1.256"},
		{"01.02.03.04", "01.02.03.04"},
		{"section 4.2.1.3 of RFC 5280", "section 4.2.1.3 of RFC 5280"},
		{"release 2.4.1.0", "release 2.4.1.0"},
		{"at 09:30:00 on 2026-11-02", "at 09:30:00 on 2026-11-02"},
		{"std::string and a::b and Foo::bar()", "std::string and a::b and Foo::bar()"},
		{"mac 00:1a:2b:3c:4d:5e", "mac 00:1a:2b:3c:4d:5e"},
		{"ratio 16:9, score 3:2", "ratio 16:9, score 3:2"},
		{"https://example.com:443/path", "https://example.com:443/path"},
		{"key: value", "key: value"},
		{"::", "::"},
	})
}
