package analyze

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
)

//go:embed report.html
var reportHTML string

// WriteHTML writes the report as one self-contained HTML page: no scripts,
// no external resources; the charts are inline SVG.
func (r Report) WriteHTML(w io.Writer, revealed bool) error {
	t, err := template.New("r").Funcs(template.FuncMap{
		"commas": func(n any) string { return commas(toInt(n)) },
		"pct":    func(f float64) string { return fmt.Sprintf("%.1f%%", f*200) },
		"chart":  chart,
		"spark":  spark,
		"bars":   bars,
		"add":    func(a, b int) int { return a + b },
		"join":   strings.Join,
	}).Parse(reportHTML)
	if err != nil {
		return err
	}
	return t.Execute(w, struct {
		Report
		Revealed bool
	}{r, revealed})
}

func toInt(n any) int {
	switch v := n.(type) {
	case int:
		return v
	case uint32:
		return int(v)
	case uint64:
		return int(v)
	}
	return 0
}

// chart draws two hourly series on a shared time axis.
func chart(sus, oth []HourPoint) template.HTML {
	if len(sus)+len(oth) == 0 {
		return ""
	}
	var lo, hi int64 = 1 << 62, 0
	var top uint32 = 1
	for _, s := range [][]HourPoint{sus, oth} {
		for _, p := range s {
			h := p.Hour.Unix()
			lo, hi = min(lo, h), max(hi, h)
			top = max(top, p.Records)
		}
	}
	span := float64(max(hi-lo, 3600))
	line := func(s []HourPoint, color string) string {
		var pts []string
		for _, p := range s {
			x := 10 + 880*float64(p.Hour.Unix()-lo)/span
			y := 190 - 180*float64(p.Records)/float64(top)
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		return fmt.Sprintf(`<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`, color, strings.Join(pts, " "))
	}
	return template.HTML(fmt.Sprintf(`<svg width="900" height="200" viewBox="0 0 900 200">%s%s<text x="12" y="14" font-size="11" fill="#777">max %s records/h</text></svg>`,
		line(oth, "#4c78a8"), line(sus, "#e45756"), commas(int(top))))
}

// spark draws one actor's hourly records as bars.
func spark(s []HourPoint) template.HTML {
	if len(s) == 0 {
		return ""
	}
	lo, hi := s[0].Hour.Unix(), s[len(s)-1].Hour.Unix()
	span := float64(max(hi-lo, 3600))
	var top uint32 = 1
	for _, p := range s {
		top = max(top, p.Records)
	}
	var b strings.Builder
	for _, p := range s {
		x := 2 + 590*float64(p.Hour.Unix()-lo)/span
		h := 46 * float64(p.Records) / float64(top)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="4" height="%.1f" fill="#e45756"/>`, x, 48-h, h)
	}
	return template.HTML(fmt.Sprintf(`<svg width="600" height="50" viewBox="0 0 600 50">%s</svg> <span class="muted">peak %s/h</span>`, b.String(), commas(int(top))))
}

// bars draws the top actors' total records.
func bars(top []ActorReport) template.HTML {
	if len(top) == 0 {
		return ""
	}
	n := min(len(top), 15)
	most := 1
	for _, a := range top[:n] {
		most = max(most, a.totalForOrdering)
	}
	var b strings.Builder
	for i, a := range top[:n] {
		w := 500 * float64(a.totalForOrdering) / float64(most)
		color := "#4c78a8"
		if a.Suspect {
			color = "#e45756"
		}
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="11">%s</text><rect x="200" y="%d" width="%.1f" height="12" fill="%s"/><text x="%.1f" y="%d" font-size="11">%s</text>`,
			i*18+12, template.HTMLEscapeString(a.Key), i*18+2, w, color, 205+w, i*18+12, commas(a.totalForOrdering))
	}
	return template.HTML(fmt.Sprintf(`<svg width="800" height="%d" viewBox="0 0 800 %d">%s</svg>`, n*18+4, n*18+4, b.String()))
}
