#!/usr/bin/python3
"""A minimal Python gRPC server with PyTorch behind fovea.v1.Inference: the peer fovea-server is compared with in
bench/compare/run.py. It serves one ONNX classifier (run as a torch module, peers.TorchClassifier) under one name
and version and implements Classify (encoded PNG/JPEG images; each image decoded and normalized like fovea-server
does, the request's images run as one batch) and ListModels (the load client times it as the gRPC floor). No
dynamic batching across requests: concurrent calls run side by side on gRPC's thread pool, each with
`--torch-threads` intra-op threads.

usage: /usr/bin/python3 bench/compare/peer_server.py --model PATH --address 127.0.0.1:PORT [--name fashion-mnist]
           [--version 1] [--variant torchscript_optimized] [--workers CORES] [--torch-threads 1]
"""
import argparse
import os
import signal
import tempfile
from concurrent import futures

import grpc
import numpy as np
import torch

import peers

DEFAULT_TOP_K = 5


class Inference:
    def __init__(self, pb, model, name, version, labels, spec):
        self.pb, self.model, self.name, self.version, self.labels, self.spec = pb, model, name, version, labels, spec

    def ListModels(self, request, context):
        return self.pb.ListModelsResponse(models=[self.pb.ModelSummary(name=self.name, versions=[self.version],
                                                                       latest_version=self.version)])

    def Classify(self, request, context):
        if request.model_name != self.name or request.model_version not in (0, self.version):
            context.abort(grpc.StatusCode.NOT_FOUND, f"model {request.model_name}:{request.model_version} is not "
                                                     f"served; this server has {self.name}:{self.version}")
        if not request.images:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request has no images")
        top_k = request.top_k if request.HasField("top_k") else min(DEFAULT_TOP_K, len(self.labels))
        if not 1 <= top_k <= len(self.labels):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"top_k {top_k} is outside [1, {len(self.labels)}]")
        response = self.pb.ClassifyResponse(model_name=self.name, model_version=self.version)
        inputs, rows = [], []
        for index, image in enumerate(request.images):
            result = response.results.add(id=image.id)
            pixels = peers.decode_to_input(image.encoded, *self.spec) if image.HasField("encoded") else None
            if pixels is None:
                result.error.code = grpc.StatusCode.INVALID_ARGUMENT.value[0]
                result.error.message = f"image {index}: not a decodable PNG/JPEG (this peer takes encoded images only)"
                continue
            inputs.append(pixels)
            rows.append(result)
        if inputs:
            with torch.no_grad():
                probabilities = self.model(torch.from_numpy(np.stack(inputs)))
            values, indices = torch.topk(probabilities, top_k, dim=1)
            for result, row_values, row_indices in zip(rows, values.tolist(), indices.tolist()):
                for probability, class_index in zip(row_values, row_indices):
                    result.predictions.add(class_index=class_index, label=self.labels[class_index],
                                           probability=probability)
        return response


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--name", default="fashion-mnist")
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--variant", default="torchscript_optimized",
                        choices=["torch_eager", "torchscript", "torchscript_optimized"])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.torch_threads)
    engine_run = peers.load_bench_script("engine")
    module = peers.TorchClassifier(args.model).eval()
    spec = peers.input_spec(args.model)
    model = engine_run.torch_variants(module, spec[:3])[args.variant]
    with tempfile.TemporaryDirectory() as stubs:
        pb, pb_grpc = peers.generate_stubs(stubs)
        servicer = Inference(pb, model, args.name, args.version, module.onnx.labels, spec)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers))
        handlers = {"Classify": grpc.unary_unary_rpc_method_handler(
                        servicer.Classify, request_deserializer=pb.ClassifyRequest.FromString,
                        response_serializer=pb.ClassifyResponse.SerializeToString),
                    "ListModels": grpc.unary_unary_rpc_method_handler(
                        servicer.ListModels, request_deserializer=pb.ListModelsRequest.FromString,
                        response_serializer=pb.ListModelsResponse.SerializeToString)}
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("fovea.v1.Inference", handlers)])
        if server.add_insecure_port(args.address) == 0:
            raise SystemExit(f"cannot listen on {args.address}")
        server.start()
        signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
        print(f"peer_server: {args.variant} on {args.address}, {args.workers} workers x {args.torch_threads} torch "
              "thread(s)", flush=True)
        server.wait_for_termination()


if __name__ == "__main__":
    main()
