// Command benchplot draws the throughput curves of the bench package's
// BenchmarkConcurrency (or BenchmarkPool) as one SVG: a grid of small
// line charts, one per operation (row) and database (column), with the
// number of concurrent callers on a log-scale x axis, ops/s on the y axis,
// and one line per implementation (a store of ours solid, impl=raw
// dashed). Each point is the median over the runs of -count.
//
// It reads the raw output of go test -bench (not benchstat's), from the
// files named or standard input, and uses only the standard library:
//
//	go test -run '^$' -bench 'BenchmarkConcurrency' -benchtime 0.5s -count 10 ./bench/ | tee conc.txt
//	go run ./bench/cmd/benchplot -o bench/results/concurrency.svg conc.txt
//
// With -ratio 64 it also prints, for every chart, each store's median at
// 64 callers over raw's (the target: gormstore at least 0.9x of
// raw on the SQL databases).
//
// For BenchmarkPool, the x axis is the pool size and every database of an
// operation shares a panel:
//
//	go run ./bench/cmd/benchplot -bench BenchmarkPool -x pool -rows impl -cols op -series db -o pool.svg conc.txt
//
// A line of the input is a result if it starts with the -bench name,
// followed by /key=value parts, a GOMAXPROCS suffix (-2), the iteration
// count and value/unit pairs. The metric is -metric (default ops/s); if a
// result has no such metric but has ns/op, ops/s is 1e9/(ns/op).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// main parses the flags and runs.
func main() {
	var o options
	flag.StringVar(&o.bench, "bench", "BenchmarkConcurrency", "benchmark `function` whose results are plotted")
	flag.StringVar(&o.x, "x", "callers", "name `key` of the x axis (log scale)")
	flag.StringVar(&o.rows, "rows", "op", "name `key` of the grid's rows")
	flag.StringVar(&o.cols, "cols", "db", "name `key` of the grid's columns")
	flag.StringVar(&o.series, "series", "impl", "name `key` of the lines of a chart")
	flag.StringVar(&o.metric, "metric", "ops/s", "`unit` of the y axis")
	flag.StringVar(&o.title, "title", "", "title (default: the benchmark and the metric)")
	flag.StringVar(&o.date, "date", time.Now().UTC().Format("2006-01-02"), "`date` in the title")
	flag.Float64Var(&o.ratioAt, "ratio", 0, "also print, at this `x` value, each series' median over raw's in every chart (to standard error)")
	out := flag.String("o", "", "output SVG `file` (default: standard output)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: benchplot [flags] [go-test-bench-output...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(o, flag.Args(), *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	bench, x, rows, cols, series, metric, title, date string
	ratioAt                                           float64
}

// run reads files (standard input if none), and writes the SVG to out
// (standard output if empty).
func run(o options, files []string, out string) error {
	var results []result
	var info []string
	read := func(r io.Reader) error {
		res, inf, err := parse(r, o.bench, o.metric)
		results = append(results, res...)
		info = append(info, inf...)
		return err
	}
	if len(files) == 0 {
		if err := read(os.Stdin); err != nil {
			return err
		}
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = read(f)
		_ = f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if len(results) == 0 {
		return fmt.Errorf("no %s results with %s in the input", o.bench, o.metric)
	}
	g, err := build(results, o)
	if err != nil {
		return err
	}
	title := o.title
	if title == "" {
		title = fmt.Sprintf("%s: %s by %s (median of runs)", o.bench, o.metric, o.x)
	}
	if o.date != "" {
		title += ", " + o.date
	}
	if o.ratioAt > 0 {
		for _, line := range ratios(g, o) {
			fmt.Fprintln(os.Stderr, line)
		}
	}
	svg := render(g, title, strings.Join(info, ", "), o)
	if out == "" {
		_, err := io.WriteString(os.Stdout, svg)
		return err
	}
	return os.WriteFile(out, []byte(svg), 0o644)
}

// result is one line of go test -bench output.
type result struct {
	keys  map[string]string // name parts key=value
	value float64           // the metric
}

// parse reads the results of benchmark bench with metric from r. info
// is the header lines (cpu:, goos:, goarch:), once each.
func parse(r io.Reader, bench, metric string) ([]result, []string, error) {
	var out []result
	var info []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		for _, h := range []string{"cpu:", "goos:", "goarch:"} {
			if strings.HasPrefix(line, h) && !slices.Contains(info, line) {
				info = append(info, line)
			}
		}
		res, ok := parseLine(line, bench, metric)
		if ok {
			out = append(out, res)
		}
	}
	return out, info, sc.Err()
}

// parseLine parses one result line of benchmark bench; ok is false if the
// line is not one, or has neither metric nor (for ops/s) ns/op.
func parseLine(line, bench, metric string) (result, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], bench+"/") {
		return result{}, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil { // iterations
		return result{}, false
	}
	name := f[0][len(bench)+1:]
	// The GOMAXPROCS suffix: -N at the end of the last part.
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	keys := map[string]string{}
	for _, part := range strings.Split(name, "/") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return result{}, false
		}
		keys[k] = v
	}
	var value, nsop float64
	found := false
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return result{}, false
		}
		switch f[i+1] {
		case metric:
			value, found = v, true
		case "ns/op":
			nsop = v
		}
	}
	if !found && metric == "ops/s" && nsop > 0 {
		value, found = 1e9/nsop, true
	}
	if !found {
		return result{}, false
	}
	return result{keys: keys, value: value}, true
}

// grid is what is drawn: panels by row and column value, in the order the
// values first appear.
type grid struct {
	rows, cols []string
	series     []string
	xs         []float64 // every x value, sorted
	panels     map[[2]string]*panel
}

// panel is one chart: the median of each series at each x.
type panel struct {
	points map[string]map[float64]float64 // series -> x -> median
}

// build groups results by panel, series and x and takes medians.
func build(results []result, o options) (*grid, error) {
	g := &grid{panels: map[[2]string]*panel{}}
	samples := map[[2]string]map[string]map[float64][]float64{}
	xset := map[float64]bool{}
	for _, r := range results {
		row, col, s, xs := r.keys[o.rows], r.keys[o.cols], r.keys[o.series], r.keys[o.x]
		if xs == "" {
			return nil, fmt.Errorf("a result has no %s= in its name", o.x)
		}
		x, err := strconv.ParseFloat(xs, 64)
		if err != nil || x <= 0 {
			return nil, fmt.Errorf("%s=%s is not a positive number", o.x, xs)
		}
		if !slices.Contains(g.rows, row) {
			g.rows = append(g.rows, row)
		}
		if !slices.Contains(g.cols, col) {
			g.cols = append(g.cols, col)
		}
		if !slices.Contains(g.series, s) {
			g.series = append(g.series, s)
		}
		xset[x] = true
		k := [2]string{row, col}
		if samples[k] == nil {
			samples[k] = map[string]map[float64][]float64{}
		}
		if samples[k][s] == nil {
			samples[k][s] = map[float64][]float64{}
		}
		samples[k][s][x] = append(samples[k][s][x], r.value)
	}
	for x := range xset {
		g.xs = append(g.xs, x)
	}
	sort.Float64s(g.xs)
	for k, bySeries := range samples {
		p := &panel{points: map[string]map[float64]float64{}}
		for s, byX := range bySeries {
			p.points[s] = map[float64]float64{}
			for x, vs := range byX {
				p.points[s][x] = median(vs)
			}
		}
		g.panels[k] = p
	}
	if len(g.panels) == 0 {
		return nil, errors.New("nothing to plot")
	}
	return g, nil
}

// ratios returns, for every chart with a raw series, each other series'
// median over raw's at x = o.ratioAt, one line each.
func ratios(g *grid, o options) []string {
	var out []string
	for _, row := range g.rows {
		for _, col := range g.cols {
			p := g.panels[[2]string{row, col}]
			if p == nil {
				continue
			}
			raw, ok := p.points["raw"][o.ratioAt]
			if !ok || raw == 0 {
				continue
			}
			for _, s := range g.series {
				if v, ok := p.points[s][o.ratioAt]; ok && !isRaw(s) {
					out = append(out, fmt.Sprintf("%s=%s %s=%s %s=%g: %s/raw = %.2f",
						o.rows, row, o.cols, col, o.x, o.ratioAt, s, v/raw))
				}
			}
		}
	}
	return out
}

// median returns the median of vs (not empty).
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Layout, in SVG user units.
const (
	panelW, panelH = 250, 190
	marginL        = 58 // y tick labels
	marginB        = 38 // x tick labels and axis name
	marginT        = 22 // panel title
	marginR        = 12
	headerH        = 70 // title, subtitle, legend
)

// palette colours series in the order they appear; raw is always grey.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"}

// style returns the colour and dash pattern of series s.
func style(g *grid, s string) (color, dash string) {
	if isRaw(s) {
		return "#555555", "6,4"
	}
	i := 0
	for _, t := range g.series {
		if t == s {
			break
		}
		if !isRaw(t) {
			i++
		}
	}
	return palette[i%len(palette)], ""
}

// isRaw tells the hand-written floors (impl=raw...) from the stores.
func isRaw(s string) bool { return strings.HasPrefix(s, "raw") }

// render draws g.
func render(g *grid, title, subtitle string, o options) string {
	cellW, cellH := marginL+panelW+marginR, marginT+panelH+marginB
	width := max(len(g.cols)*cellW, 700)
	height := headerH + len(g.rows)*cellH
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="16" font-weight="bold">%s</text>`+"\n", esc(title))
	if subtitle != "" {
		fmt.Fprintf(&b, `<text x="10" y="40" font-size="11" fill="#444">%s</text>`+"\n", esc(subtitle))
	}
	// Legend.
	lx := 10.0
	for _, s := range g.series {
		c, d := style(g, s)
		fmt.Fprintf(&b, `<line x1="%.0f" y1="58" x2="%.0f" y2="58" stroke="%s" stroke-width="2.5"%s/>`, lx, lx+28, c, dashAttr(d))
		fmt.Fprintf(&b, `<text x="%.0f" y="62" font-size="12">%s=%s</text>`+"\n", lx+34, esc(o.series), esc(s))
		lx += 34 + 7.5*float64(len(o.series)+1+len(s)) + 22
	}
	for ri, row := range g.rows {
		for ci, col := range g.cols {
			x0 := float64(ci*cellW + marginL)
			y0 := float64(headerH + ri*cellH + marginT)
			renderPanel(&b, g, g.panels[[2]string{row, col}], x0, y0, fmt.Sprintf("%s=%s, %s=%s", o.rows, row, o.cols, col), o)
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// dashAttr is the stroke-dasharray attribute of dash pattern d, if any.
func dashAttr(d string) string {
	if d == "" {
		return ""
	}
	return fmt.Sprintf(` stroke-dasharray="%s"`, d)
}

// renderPanel draws one chart with its plot area at x0, y0.
func renderPanel(b *strings.Builder, g *grid, p *panel, x0, y0 float64, name string, o options) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="12" font-weight="bold" text-anchor="middle">%s</text>`+"\n", x0+panelW/2, y0-8, esc(name))
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", x0, y0, panelW, panelH)
	if p == nil {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11" fill="#999" text-anchor="middle">no data</text>`+"\n", x0+panelW/2, y0+panelH/2)
		return
	}
	ymax := 0.0
	for _, pts := range p.points {
		for _, v := range pts {
			ymax = math.Max(ymax, v)
		}
	}
	ticks := niceTicks(ymax)
	top := ticks[len(ticks)-1]
	lmin, lmax := math.Log(g.xs[0]), math.Log(g.xs[len(g.xs)-1])
	px := func(x float64) float64 {
		if lmax == lmin {
			return x0 + panelW/2
		}
		return x0 + 10 + (math.Log(x)-lmin)/(lmax-lmin)*(panelW-20)
	}
	py := func(v float64) float64 { return y0 + panelH - v/top*panelH }
	for _, t := range ticks {
		y := py(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, x0, y, x0+panelW, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="end">%s</text>`+"\n", x0-4, y+3.5, human(t))
	}
	for _, x := range g.xs {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, px(x), y0, px(x), y0+panelH)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle">%s</text>`+"\n", px(x), y0+panelH+13, strconv.FormatFloat(x, 'f', -1, 64))
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="10" fill="#444" text-anchor="middle">%s (log scale)</text>`+"\n", x0+panelW/2, y0+panelH+28, esc(o.x))
	fmt.Fprintf(b, `<text transform="translate(%.1f %.1f) rotate(-90)" font-size="10" fill="#444" text-anchor="middle">%s</text>`+"\n", x0-44, y0+panelH/2, esc(o.metric))
	for _, s := range g.series {
		pts, ok := p.points[s]
		if !ok {
			continue
		}
		c, d := style(g, s)
		var path []string
		for _, x := range g.xs {
			if v, ok := pts[x]; ok {
				path = append(path, fmt.Sprintf("%.1f,%.1f", px(x), py(v)))
			}
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`, strings.Join(path, " "), c, dashAttr(d))
		for _, pt := range path {
			xy := strings.Split(pt, ",")
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="2.5" fill="%s"/>`, xy[0], xy[1], c)
		}
		b.WriteString("\n")
	}
}

// niceTicks returns 0 and evenly spaced round values up to at least ymax.
func niceTicks(ymax float64) []float64 {
	if ymax <= 0 {
		return []float64{0, 1}
	}
	raw := ymax / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var t []float64
	for v := 0.0; ; v += step {
		t = append(t, v)
		if v >= ymax {
			return t
		}
	}
}

// human writes v briefly: 950, 1.2k, 35k, 1.5M.
func human(v float64) string {
	switch {
	case v >= 1e6:
		return trim(v/1e6) + "M"
	case v >= 1e3:
		return trim(v/1e3) + "k"
	}
	return trim(v)
}

// trim writes v with at most two decimals.
func trim(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

// esc escapes s for SVG text.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
