package plugin

import (
	"context"

	"github.com/inclavare/inclavare/framework/instance"
	pb "github.com/inclavare/inclavare/framework/plugin/proto"
)

// attester is the host-side proxy of an attester plugin.
type attester struct{ *proxy }

var _ instance.Attester = (*attester)(nil)

// Collect asks the plugin for evidence over reportData.
func (a *attester) Collect(ctx context.Context, reportData []byte) (instance.Evidence, error) {
	var ev instance.Evidence
	err := a.p.call(ctx, "Collect", func(ctx context.Context, s *session) error {
		resp, err := pb.NewAttesterClient(s.conn).Collect(ctx, &pb.CollectRequest{ReportData: reportData})
		if err != nil {
			return err
		}
		e := resp.GetEvidence()
		if e.GetType() == "" {
			return &malformed{"empty evidence type"}
		}
		ev = instance.Evidence{Type: e.GetType(), Data: e.GetData()}
		return nil
	})
	return ev, err
}

// Endorsements asks the plugin for the endorsements of ev (nil if none).
func (a *attester) Endorsements(ctx context.Context, ev instance.Evidence) ([]byte, error) {
	var out []byte
	err := a.p.call(ctx, "Endorsements", func(ctx context.Context, s *session) error {
		resp, err := pb.NewAttesterClient(s.conn).Endorsements(ctx, &pb.EndorsementsRequest{
			Evidence: &pb.Evidence{Type: ev.Type, Data: ev.Data},
		})
		if err != nil {
			return err
		}
		if len(resp.GetEndorsements()) > 0 {
			out = resp.GetEndorsements()
		}
		return nil
	})
	return out, err
}

// attesterServer serves an attester in a plugin process. The common calls
// come from *server; the generated Unimplemented type sits one level deeper
// so that they win.
type attesterServer struct {
	*server
	attesterUnimplemented
}

type attesterUnimplemented struct{ pb.UnimplementedAttesterServer }

func (s *attesterServer) Collect(ctx context.Context, req *pb.CollectRequest) (*pb.CollectResponse, error) {
	a, err := instanceOf[instance.Attester](s.server)
	if err != nil {
		return nil, err
	}
	ev, err := a.Collect(ctx, req.GetReportData())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CollectResponse{Evidence: &pb.Evidence{Type: ev.Type, Data: ev.Data}}, nil
}

func (s *attesterServer) Endorsements(ctx context.Context, req *pb.EndorsementsRequest) (*pb.EndorsementsResponse, error) {
	a, err := instanceOf[instance.Attester](s.server)
	if err != nil {
		return nil, err
	}
	e := req.GetEvidence()
	out, err := a.Endorsements(ctx, instance.Evidence{Type: e.GetType(), Data: e.GetData()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.EndorsementsResponse{Endorsements: out}, nil
}
