package analyze

import "testing"

func TestOriginForm(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/a/b?x=1", "/a/b?x=1"},
		{"https://www.example.com:443/robots.txt", "/robots.txt"},
		{"HTTP://h/a", "/a"},
		{"http://h", "/"},
		{"http://h?x=1", "/?x=1"},
		{"http://", "http://"},
		{"*", "*"},
	} {
		if got := string(originForm([]byte(tt.in))); got != tt.want {
			t.Errorf("originForm(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
