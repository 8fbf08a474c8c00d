package serve

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/inclavare/inclavare/shelter/verify"
)

// contentSecurityPolicy lets the status page use its inline CSS and
// nothing else: no script, image, font, frame or form, from anywhere.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// statusPage is the page's template; every value is escaped by
// html/template.
var statusPage = template.Must(template.New("status").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shelter serve: recent verifications</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; background: #fafafa; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; margin: 0 0 1em; }
dt { color: #555; }
dd { margin: 0; font-family: ui-monospace, monospace; word-break: break-all; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: .35em .6em; border-bottom: 1px solid #ddd; }
th { background: #eee; }
td.time, td.client { font-family: ui-monospace, monospace; white-space: nowrap; }
ul.reasons { margin: 0; padding-left: 1.1em; }
.verdict { font-weight: 600; padding: .1em .5em; border-radius: .3em; }
.affirming { background: #d5f5d5; color: #0b5d0b; }
.warning { background: #fff1c2; color: #6b4e00; }
.contraindicated, .failed { background: #fdd; color: #8b0000; }
.rejected, .error, .none { background: #e4e4e4; color: #333; }
.counts span { margin-right: 1em; }
.empty { color: #666; font-style: italic; }
</style>
</head>
<body>
<h1>shelter serve</h1>
<dl>
<dt>Policy</dt><dd id="policy">{{.Policy}}</dd>
<dt>Simulated TEEs</dt><dd id="simulated">{{if .AllowSimulated}}trusted (test only){{else}}refused{{end}}</dd>
<dt>Result key (SHA-256 of the public key)</dt><dd id="key-id">{{.KeyID}}</dd>
{{if .PinnedTime}}<dt>Verification time</dt><dd id="pinned-time">pinned to {{.PinnedTime}}</dd>
{{end}}<dt>Started</dt><dd>{{.Started}}</dd>
<dt>Now</dt><dd>{{.Now}}</dd>
</dl>
<p class="counts" id="counts">{{.Total}} requests since start{{range .Counts}}: <span class="{{.Outcome}}">{{.Outcome}} {{.N}}</span>{{end}}</p>
<h2>Recent verifications (newest first, at most {{.Max}})</h2>
<table id="recent">
<thead><tr><th>Time (UTC)</th><th>Client</th><th>Evidence type</th><th>Verdict</th><th>HTTP</th><th>Reasons</th></tr></thead>
<tbody>
{{- range .Entries}}
<tr class="entry" data-outcome="{{.Outcome}}">
<td class="time">{{.Time.UTC.Format "2006-01-02 15:04:05"}}</td>
<td class="client">{{.Client}}</td>
<td class="type">{{.Type}}</td>
<td><span class="verdict {{.Outcome}}">{{.Outcome}}</span>{{if .Signed}} (signed){{end}}</td>
<td class="http">{{.HTTPStatus}}</td>
<td>{{if .Reasons}}<ul class="reasons">{{range .Reasons}}<li>{{.}}</li>{{end}}</ul>{{end}}</td>
</tr>
{{- else}}
<tr><td colspan="6" class="empty">No verification yet: POST evidence to /v1/verify.</td></tr>
{{- end}}
</tbody>
</table>
<p>API: <code>POST /v1/verify</code> (evidence as the body), <code>GET /v1/key</code>, <code>GET /healthz</code>.</p>
</body>
</html>
`))

// outcomeCount is one outcome's count since the start.
type outcomeCount struct {
	Outcome string
	N       uint64
}

// outcomeOrder is the order the counts are shown in.
var outcomeOrder = []string{"affirming", "warning", "contraindicated", OutcomeFailed, OutcomeRejected, OutcomeError}

// status is GET /, the status page.
func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	counts, total := h.hist.tally()
	data := struct {
		Policy         string
		AllowSimulated bool
		KeyID          string
		PinnedTime     string
		Started, Now   string
		Total          uint64
		Counts         []outcomeCount
		Max            int
		Entries        []Entry
	}{
		Policy:         verify.DefaultPolicyID + " (the default appraisal)",
		AllowSimulated: h.cfg.Verify.AllowSimulated,
		KeyID:          h.keyID,
		Started:        h.started.UTC().Format(time.RFC3339),
		Now:            time.Now().UTC().Format(time.RFC3339),
		Total:          total,
		Max:            h.cfg.History,
		Entries:        h.hist.recent(),
	}
	if at := h.cfg.Verify.Now; !at.IsZero() {
		data.PinnedTime = at.UTC().Format(time.RFC3339)
	}
	if p := h.cfg.Verify.Policy; p != nil {
		data.Policy = p.ID
	}
	for _, o := range outcomeOrder {
		if n := counts[o]; n > 0 {
			data.Counts = append(data.Counts, outcomeCount{o, n})
		}
	}
	var b bytes.Buffer
	if err := statusPage.Execute(&b, data); err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Errorf("rendering the status page: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Write(b.Bytes())
}
