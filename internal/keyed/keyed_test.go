package keyed

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "state", "secret")
	s1, src, created, err := LoadSecret(nil, "", file)
	if err != nil || !created || src != file {
		t.Fatalf("first start: %v %v %v", src, created, err)
	}
	st, _ := os.Stat(file)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", st.Mode().Perm())
	}
	s2, _, created, err := LoadSecret(nil, "", file)
	if err != nil || created || string(s1) != string(s2) {
		t.Fatal("secret not kept across starts: actor hashes would change")
	}
	t.Setenv("LG_SECRET_TEST", "from-the-environment-123")
	s3, src, _, _ := LoadSecret(nil, "LG_SECRET_TEST", file)
	if string(s3) != "from-the-environment-123" || src != "$LG_SECRET_TEST" {
		t.Fatalf("env secret not preferred: %q from %s", s3, src)
	}
	t.Setenv("LG_SECRET_TEST", "short")
	if _, _, _, err := LoadSecret(nil, "LG_SECRET_TEST", file); err == nil {
		t.Error("a 5-character secret was accepted")
	}
}

func TestHasherKeyedAndDomainSeparated(t *testing.T) {
	a, b := New([]byte("secret-one-0123456789")), New([]byte("secret-two-0123456789"))
	if a.String(1, "13812345678") == b.String(1, "13812345678") {
		t.Error("different secrets, same hash")
	}
	if a.String(1, "x") == a.String(2, "x") {
		t.Error("different domains, same hash")
	}
	if a.String(1, "x") != a.Sum64(1, []byte("x")) {
		t.Error("String and Sum64 disagree")
	}
}
