package server

import (
	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

// backupChunk is about how many bytes of records go in one BackupResponse.
const backupChunk = 1 << 20

// Backup implements agenttrailv1.LogServiceServer: the store's backup at its
// latest signed checkpoint (store.Store.Backup), full or after the earlier
// backup whose checkpoint the request names, streamed in responses of about
// a megabyte. The stream is supervised like a query's: a client that stops
// reading has it ended.
func (l *logService) Backup(req *agenttrailv1.BackupRequest, stream agenttrailv1.LogService_BackupServer) error {
	s := l.s
	ctx := stream.Context()
	shutdownCtx, cancel := s.untilShutdown(ctx)
	defer cancel()
	err := s.supervise(ctx, func(w *watchdog) error {
		resp := &agenttrailv1.BackupResponse{}
		size := 0
		flush := func() error {
			if len(resp.Records) == 0 {
				return nil
			}
			err := w.send(func() error { return stream.Send(resp) })
			resp, size = &agenttrailv1.BackupResponse{}, 0
			return err
		}
		_, err := s.st.Backup(shutdownCtx, req.GetBaseCheckpoint(), func(rec *agenttrailv1.BackupRecord) error {
			resp.Records = append(resp.Records, rec)
			if size += proto.Size(rec); size >= backupChunk || rec.GetTrailer() != nil {
				return flush()
			}
			return nil
		})
		if err != nil {
			return statusError(ctx, s.log, err)
		}
		return flush()
	})
	return err
}
