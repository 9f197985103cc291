package audit

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, kind, host, name, user, pass, db string
		tls                                  bool
		err                                  string
	}{
		{in: "es://10.0.3.7:9200", kind: "elasticsearch", host: "10.0.3.7:9200", name: "es://10.0.3.7:9200"},
		{in: "opensearch://search", kind: "elasticsearch", host: "search:9200", name: "opensearch://search"},
		{in: "es+https://search", kind: "elasticsearch", host: "search:9200", tls: true, name: "es+https://search"},
		{in: "redis://cache-1", kind: "redis", host: "cache-1:6379", name: "redis://cache-1"},
		{in: "rediss://cache-1:6380", kind: "redis", host: "cache-1:6380", tls: true, name: "rediss://cache-1:6380"},
		{in: "postgres://db-1:5432/shop", kind: "postgres", host: "db-1:5432", db: "shop", name: "postgres://db-1:5432/shop"},
		{in: "mysql://root:pw@db-2", kind: "mysql", host: "db-2:3306", user: "root", pass: "pw", name: "mysql://root@db-2"},
		{in: "mariadb://[::1]", kind: "mysql", host: "[::1]:3306", name: "mariadb://[::1]"},
		{in: "ftp://x", err: "unknown scheme"},
		{in: "10.0.3.7:9200", err: "want scheme://host"},
		{in: "", err: "want scheme://host"},
	} {
		got, err := ParseTarget(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got.Scheme != tc.kind || got.Host != tc.host || got.Name != tc.name || got.User != tc.user ||
			got.Password != tc.pass || got.Database != tc.db || got.TLS != tc.tls {
			t.Errorf("%q: got %+v", tc.in, got)
		}
	}
}

func TestNameHint(t *testing.T) {
	for in, want := range map[string]string{
		"phone": "phone", "user_phone": "phone", "customer.mobile": "phone", "receiverPhone": "phone",
		"phone_no": "phone", "PhoneNumber": "phone", "phone_verified": "", "tel": "phone", "hotel": "",
		"email": "email", "contact_email": "email", "email_sent": "",
		"shipping_address": "address", "addr": "address", "ip_address": "address",
		"name": "name", "first_name": "name", "realName": "name", "product_name": "name", "username": "",
		"id_card": "national_id", "idcard": "national_id", "id_no": "national_id", "id": "", "user_id": "",
		"bank_card": "bank_card", "card_no": "bank_card", "birthday": "birth_date",
		"收货人手机": "phone", "姓名": "name", "身份证号": "national_id", "": "",
	} {
		if got := NameHint(in); got != want {
			t.Errorf("NameHint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"13812345678":        "138****5678",
		"alice@example.com":  "a***@example.com",
		"110101199003071233": "110****1233",
		"张伟":                 "张*",
		"abcde":              "a***e",
		"x":                  "*",
		"":                   "*",
		"浙江省杭州市余杭区文一西路969号": "浙江省****969号",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClassifierEstimatesRecordsAtRisk(t *testing.T) {
	cl := NewClassifier([]string{"CN"})
	c := NewCollection("customers", 1000, true)
	c.Declare("id", "phone", "nickname")
	// 3 of 4 sampled rows carry a valid phone; one has a malformed number.
	for _, p := range []string{"13912345678", "15800001111", "18612345678", "12345"} {
		cl.AddRow(&c, []KV{{"id", "7"}, {"phone", p}, {"nickname", "x"}})
	}
	c.finish()
	if c.Sampled != 4 || c.WithPII != 3 || c.RecordsAtRisk != 750 {
		t.Fatalf("collection = %+v", c)
	}
	if len(c.Fields) != 1 || c.Fields[0].Name != "phone" || c.Fields[0].Confidence != "high" || c.Fields[0].Matched != 3 {
		t.Fatalf("fields = %+v", c.Fields)
	}
	// A "name" column alone (products have names) is not personal data.
	p := NewCollection("products", 500, true)
	cl.AddRow(&p, []KV{{"name", "Rice cooker"}, {"price", "299"}})
	p.finish()
	if p.RecordsAtRisk != 0 || p.Fields[0].Confidence != "low" {
		t.Fatalf("products = %+v", p)
	}
}

func TestFlattenKeepsDigitsOfNumbers(t *testing.T) {
	kvs, err := Flatten([]byte(`{"a":{"mobile":13912345678,"tags":["x","y"]},"n":null,"ok":true,"f":1.5}`), 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, kv := range kvs {
		got[kv.Name] = append(got[kv.Name], kv.Value)
	}
	if got["a.mobile"][0] != "13912345678" || len(got["a.tags"]) != 2 || got["ok"][0] != "true" || got["f"][0] != "1.5" {
		t.Fatalf("flatten = %v", got)
	}
	if _, err := Flatten([]byte(`{"a":`), 10); err == nil {
		t.Fatal("truncated JSON flattened without error")
	}
}

type panicky struct{}

func (panicky) Probe(context.Context, Target, *Classifier) Finding { panic("boom") }

type slow struct{}

func (slow) Probe(ctx context.Context, t Target, _ *Classifier) Finding {
	<-ctx.Done()
	return Finding{Status: Error, Error: ctx.Err().Error()}
}

type open struct{}

func (open) Probe(context.Context, Target, *Classifier) Finding {
	return Finding{Status: Exposed, Access: "no authentication", TLS: "no"}
}

// One broken target never stops the others.
func TestRunIsolatesTargets(t *testing.T) {
	var ts []Target
	for _, u := range []string{"redis://a", "postgres://b", "mysql://c"} {
		tg, _ := ParseTarget(u)
		tg.Timeout = 200 * time.Millisecond
		ts = append(ts, tg)
	}
	fs := Run(context.Background(), ts, map[string]Prober{"redis": panicky{}, "postgres": slow{}, "mysql": open{}},
		NewClassifier(nil), 3, nil)
	if fs[0].Status != Error || !strings.Contains(fs[0].Error, "boom") {
		t.Errorf("panicking probe: %+v", fs[0])
	}
	if fs[1].Status != Error || len(fs[1].Notes) == 0 {
		t.Errorf("slow probe: %+v", fs[1])
	}
	if fs[2].Status != Exposed || fs[2].Severity != SevMedium || fs[2].Target != "mysql://c" {
		t.Errorf("open probe: %+v", fs[2])
	}
	if ExitCode(fs) != 1 || ExitCode(fs[:2]) != 2 || ExitCode(nil) != 0 {
		t.Errorf("exit codes %d %d %d", ExitCode(fs), ExitCode(fs[:2]), ExitCode(nil))
	}
}

func TestExampleTargetsFileLoads(t *testing.T) {
	ts, err := LoadTargets("../../leakguard.targets.example.yaml", func(k string) string {
		if k == "DB1_AUDIT_PASSWORD" {
			return "pw"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 4 || ts[0].Name != "search-prod" || ts[2].User != "auditor" || ts[2].Password != "pw" ||
		ts[3].Timeout != 30*time.Second || ts[3].Sample != 50 || ts[1].Sample != 20 {
		t.Fatalf("targets = %+v", ts)
	}
}
