"""protoc plugin that runs the gRPC Python generator of the pinned grpcio-tools.

buf runs protoc's built-in generators (python) but has no built-in for
grpc_python, which lives only inside grpcio-tools' own protoc. This plugin
bridges the two: it reads the CodeGeneratorRequest buf sends, hands the same
descriptors to grpc_tools.protoc with --grpc_python_out, and returns the files
it wrote as a CodeGeneratorResponse. Run it with the virtual environment's
python so the pinned grpcio-tools is the one used.
"""

import os
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse()
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    with tempfile.TemporaryDirectory() as tmp:
        fds = descriptor_pb2.FileDescriptorSet(file=request.proto_file)
        fds_path = os.path.join(tmp, "descriptors.binpb")
        with open(fds_path, "wb") as f:
            f.write(fds.SerializeToString())
        out = os.path.join(tmp, "out")
        os.mkdir(out)
        args = ["grpc_tools.protoc", f"--descriptor_set_in={fds_path}"]
        opt = f"{request.parameter}:" if request.parameter else ""
        args.append(f"--grpc_python_out={opt}{out}")
        args.extend(request.file_to_generate)
        if protoc.main(args) != 0:
            response.error = "grpc_tools.protoc failed to generate gRPC Python code"
        else:
            for root, _, files in os.walk(out):
                for name in sorted(files):
                    path = os.path.join(root, name)
                    generated = response.file.add()
                    generated.name = os.path.relpath(path, out)
                    with open(path, encoding="utf-8") as f:
                        generated.content = f.read()
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
