package middleware_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/leakguard/leakguard/middleware"
)

// A profile API wrapped by leakguard: each address may read 3 distinct
// profiles an hour, and is refused with 403 from the fourth on.
func Example() {
	dir, _ := os.MkdirTemp("", "leakguard-example-")
	defer os.RemoveAll(dir)
	conf := `
mode: enforce
records:
  - route: GET /api/users/{id}
    entity: user
budgets:
  - {entity: user, per: ip, window: 1h, limit: 3, action: block, block_for: 1h}
log:
  decisions: ` + filepath.Join(dir, "decisions.jsonl") + `
state:
  dir: ` + dir + `
`
	mw, err := middleware.New([]byte(conf), middleware.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mw.Close()

	api := http.NewServeMux()
	api.HandleFunc("GET /api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"name":"someone"}`, r.PathValue("id"))
	})
	srv := httptest.NewServer(mw.Handler(api))
	defer srv.Close()

	for id := 1; id <= 5; id++ {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/users/%d", srv.URL, id), nil)
		// A browser's headers: an automation user agent is challenged
		// by the default risk bands before any budget is met.
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
		req.Header.Set("Accept-Language", "en")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println(id, resp.StatusCode)
	}
	// Output:
	// 1 200
	// 2 200
	// 3 200
	// 4 403
	// 5 403
}
