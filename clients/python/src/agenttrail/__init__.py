"""agenttrail: the Python client of agenttrail, the tamper-evident audit trail
for AI agents.

- agenttrail.v1: the API, generated from proto/agenttrail/v1: messages such as
  event_pb2.Event and entry_pb2.Entry, and gRPC stubs such as
  append_service_pb2_grpc.AppendServiceStub.
- agenttrail.verify: checks log entries, inclusion and consistency proofs and
  signed checkpoints with nothing but the log's verifier key.
"""
