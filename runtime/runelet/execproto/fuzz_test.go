package execproto

import (
	"reflect"
	"testing"
)

// FuzzDecodeRequest checks that the request decoder never panics, that
// what it accepts is valid, and that it re-encodes to the same request.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"args":["/bin/sh","-c","echo hi"],"env":["PATH=/bin"],"cwd":"/"}`,
		`{"args":["a"]}`,
		`{"args":[]}`,
		`{"args":null}`,
		`{"args":["a\u0000"]}`,
		`{"ARGS":["a"]}`,
		`{"args":["a"],"env":["=x"]}`,
		`[]`,
		`null`,
		`{"attest":{"report_data":"AAECAw=="}}`,
		`{"attest":{}}`,
		`{"attest":{"report_data":"AA=="},"cwd":"/"}`,
		`{"attest":{"report_data":"AA==","x":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRequest(data)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted an invalid request %+v: %v", r, err)
		}
		enc, err := EncodeRequest(r)
		if err != nil {
			t.Fatalf("cannot re-encode accepted request %+v: %v", r, err)
		}
		r2, err := DecodeRequest(enc)
		if err != nil {
			t.Fatalf("re-encoded request refused: %v", err)
		}
		if len(r.Env) == 0 && len(r2.Env) == 0 {
			r.Env, r2.Env = nil, nil
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed %+v into %+v", r, r2)
		}
	})
}

// FuzzDecodeResponse checks that the response decoder never panics and
// accepts only exactly one of a valid exit code and an error.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{`{"exit_code":3}`, `{"error":"no"}`, `{}`, `{"exit_code":300}`, `{"report":"AQI="}`, `{"report":"AQI=","error":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResponse(data)
		if err != nil {
			return
		}
		n := 0
		for _, set := range []bool{r.ExitCode != nil, r.Error != "", len(r.Report) != 0} {
			if set {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("accepted %+v", r)
		}
		if r.ExitCode != nil && (*r.ExitCode < 0 || *r.ExitCode > 255) {
			t.Fatalf("accepted exit code %d", *r.ExitCode)
		}
	})
}
