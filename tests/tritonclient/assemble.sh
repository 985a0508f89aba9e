#!/bin/bash
# Assemble tritonclient (grpc+http) from public source without pip. See ASSEMBLE.md.
set -euo pipefail
CLIENT=${CLIENT:?set CLIENT to a git checkout of triton-inference-server/client}
COMMON=${COMMON:?set COMMON to a git checkout of triton-inference-server/common}
TC=${TC:?set TC to a scratch folder outside the repository}
echo "tritonclient source: client $(git -C "$CLIENT" rev-parse HEAD), common $(git -C "$COMMON" rev-parse HEAD)"
rm -rf "$TC/site" "$TC/src" "$TC/gen" "$TC/examples"
mkdir -p "$TC/site" "$TC/src" "$TC/gen/protos"
# 1. client sources (library + examples)
git -C "$CLIENT" archive HEAD src/python/library/tritonclient src/python/examples | tar -x -C "$TC/src"
cp -r "$TC/src/src/python/library/tritonclient" "$TC/site/tritonclient"
cp -r "$TC/src/src/python/examples" "$TC/examples"
find "$TC/site" -name CMakeLists.txt -delete
# 2. protos from triton common
for p in grpc_service.proto model_config.proto health.proto; do
  git -C "$COMMON" show HEAD:protobuf/$p > "$TC/gen/protos/$p"
done
# 3. generate python modules (as protobuf_generate_python + grpc_tools.protoc in common/protobuf/CMakeLists.txt)
( cd "$TC/gen/protos" && protoc -I . --python_out=.. grpc_service.proto model_config.proto health.proto \
  && protoc -I . --grpc_out=.. --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin grpc_service.proto )
# 4. rename + fix imports exactly as src/python/library/build_wheel.py does
G="$TC/site/tritonclient/grpc"
cp "$TC/gen/model_config_pb2.py"       "$G/model_config_pb2.py"
cp "$TC/gen/grpc_service_pb2.py"       "$G/service_pb2.py"
cp "$TC/gen/grpc_service_pb2_grpc.py"  "$G/service_pb2_grpc.py"
sed -E -i 's/^import ([^ ]*)_pb2 as ([^ ]*)$/from tritonclient.grpc import \1_pb2 as \2/' "$G/model_config_pb2.py" "$G/service_pb2.py"
sed -E -i 's/^import grpc_([^ ]*)_pb2 as ([^ ]*)$/from tritonclient.grpc import \1_pb2 as \2/' "$G/service_pb2_grpc.py"
# 5. smoke import
PYTHONPATH="$TC/site" /usr/bin/python3 -c 'import tritonclient.grpc, tritonclient.http, tritonclient.grpc.model_config_pb2 as m; print("tritonclient assembled OK")'
