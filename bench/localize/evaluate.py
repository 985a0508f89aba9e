#!/usr/bin/python3
"""Scores localization on the scenes of make_scenes.py: mAP@0.5, recall and precision at a score threshold, and the
pointing game, from the real server's Localize RPC (or, with --torch-model, from the PyTorch reference in
dense_torch.py, to compare the two).

Metrics (DENSE method, one Localize call per scene, every non-background class mapped; with --top-k K only the
scene's K best classes, as the RPC picks them when it is given no classes):
  - AP per class, PASCAL VOC style: detections of the class over all scenes ranked by score; each is a true positive
    when its IoU with a not-yet-matched ground-truth box of the same class in its scene is >= --iou (the best-IoU box
    is the candidate, as in VOC), else a false positive; AP is the area under the precision-recall curve with
    all-point interpolation (precision made monotone from the right). mAP = mean over classes with ground truth.
    Detections are requested down to --min-score so the ranking covers low scores too.
  - recall and precision counting only detections with score >= --threshold (the operating point, default 0.5).
  - pointing game: for every (scene, class present in it), the peak cell of that class's heatmap is a hit when its
    pixel centre lies inside a ground-truth box of that class (a miss when --top-k left the class unmapped).
  - with --cam-crops N: the pointing game for CAM and Grad-CAM on N single-item crops (the item's window grown by
    --cam-margin pixels of the scene around it, cut at the canvas), using the true class's heatmap and the item's
    tight box.

usage:
  /usr/bin/python3 bench/localize/evaluate.py --scenes DIR --server-bin build/bin/fovea-server --models models
  /usr/bin/python3 bench/localize/evaluate.py --scenes DIR --server 127.0.0.1:PORT
  /usr/bin/python3 bench/localize/evaluate.py --scenes DIR --torch-model models/fashion-mnist/2/model.onnx
  /usr/bin/python3 bench/localize/evaluate.py --self-test
Exit status: 0, or 1 when a --min-map / --min-pointing floor is missed (or the self-test fails).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_scenes  # noqa: E402 (next to this file)

REPO = os.path.dirname(os.path.dirname(HERE))
SERVER_START_SECONDS = 60


# ---------------------------------------------------------------------------------------------------------- metrics

def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_scene(detections, truths, iou_threshold):
    """VOC matching in one scene for one class: detections [(score, box)] best first, truths [box]. Returns a
    true-positive flag per detection (in the given order)."""
    taken = [False] * len(truths)
    flags = []
    for _, box in detections:
        best, best_iou = -1, 0.0
        for j, truth in enumerate(truths):
            overlap = iou(box, truth)
            if overlap > best_iou:
                best, best_iou = j, overlap
        hit = best >= 0 and best_iou >= iou_threshold and not taken[best]
        if hit:
            taken[best] = True
        flags.append(hit)
    return flags


def average_precision(scores, flags, positives):
    """VOC all-point interpolated AP of ranked detections (score, true-positive flag) against `positives` truths."""
    if positives == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    tp = np.asarray(flags, dtype=np.float64)[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(1.0 - tp)
    recall = ctp / positives
    precision = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    changes = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))


def detection_metrics(per_scene, classes, iou_threshold, score_threshold):
    """per_scene: [(detections [(class, score, box)], truths [(class, box)])]. Returns per-class AP, mAP and the
    counts at score_threshold."""
    ranked = {c: ([], []) for c in classes}  # class -> (scores, flags)
    positives = {c: 0 for c in classes}
    tp_at = fp_at = 0
    for detections, truths in per_scene:
        for c in classes:
            mine = sorted([(s, b) for k, s, b in detections if k == c], key=lambda d: -d[0])
            boxes = [b for k, b in truths if k == c]
            positives[c] += len(boxes)
            flags = match_scene(mine, boxes, iou_threshold)
            ranked[c][0].extend(s for s, _ in mine)
            ranked[c][1].extend(flags)
            # At the operating point: the same matching restricted to detections above the threshold (the ranking is
            # a prefix of the full one, so the flags are the prefix's).
            for (s, _), hit in zip(mine, flags):
                if s >= score_threshold:
                    tp_at += hit
                    fp_at += not hit
    ap = {c: average_precision(ranked[c][0], ranked[c][1], positives[c]) for c in classes if positives[c] > 0}
    total = sum(positives.values())
    return {
        "ap": ap,
        "map": float(np.mean(list(ap.values()))) if ap else float("nan"),
        "truths": total,
        "tp": tp_at,
        "fp": fp_at,
        "recall": tp_at / total if total else float("nan"),
        "precision": tp_at / (tp_at + fp_at) if tp_at + fp_at else float("nan"),
    }


def peak_point(heatmap):
    """Pixel centre of the heatmap's highest cell (first one on ties)."""
    row, col = np.unravel_index(int(np.argmax(heatmap["values"])), heatmap["values"].shape)
    return heatmap["offset_x"] + col * heatmap["stride_x"], heatmap["offset_y"] + row * heatmap["stride_y"]


def inside(point, box):
    return box[0] <= point[0] < box[2] and box[1] <= point[1] < box[3]


# --------------------------------------------------------------------------------------------------------- backends

def generate_stubs(workdir):
    """Python protobuf/gRPC modules of proto/fovea/v1/inference.proto, generated into `workdir` and imported."""
    plugin = shutil.which("grpc_python_plugin")
    if plugin is None:
        raise RuntimeError("grpc_python_plugin not found (Debian package protobuf-compiler-grpc)")
    subprocess.run(["protoc", f"-I{os.path.join(REPO, 'proto')}", f"--python_out={workdir}",
                    f"--grpc_python_out={workdir}", f"--plugin=protoc-gen-grpc_python={plugin}",
                    "fovea/v1/inference.proto"], check=True)
    sys.path.insert(0, workdir)
    from fovea.v1 import inference_pb2, inference_pb2_grpc  # noqa: E402 (generated above)
    return inference_pb2, inference_pb2_grpc


class ServerBackend:
    """The real server's Localize RPC."""

    def __init__(self, address, model, version, workdir):
        import grpc
        self.pb, grpc_pb = generate_stubs(workdir)
        self.channel = grpc.insecure_channel(address, options=[("grpc.max_receive_message_length", 64 << 20)])
        self.stub = grpc_pb.InferenceStub(self.channel)
        self.model, self.version = model, version
        self.engine = f"fovea-server at {address}"
        self.methods = ["dense", "cam", "grad-cam"]

    def wait_ready(self, seconds):
        import grpc
        deadline = time.time() + seconds
        while True:
            try:
                return self.describe()
            except grpc.RpcError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    def describe(self):
        reply = self.stub.GetModel(self.pb.GetModelRequest(model_name=self.model, model_version=self.version),
                                   timeout=5)
        background = int(reply.metadata.get("fovea.background_class", "-1"))
        self.version = reply.version
        return list(reply.labels), background, (int(reply.input.height), int(reply.input.width))

    def localize(self, png, gray, method, classes, stride, min_score, nms_iou, top_k=0):
        methods = {"dense": self.pb.LOCALIZATION_METHOD_DENSE, "cam": self.pb.LOCALIZATION_METHOD_CAM,
                   "grad-cam": self.pb.LOCALIZATION_METHOD_GRAD_CAM}
        request = self.pb.LocalizeRequest(model_name=self.model, model_version=self.version,
                                          image=self.pb.ImageInput(encoded=png), method=methods[method],
                                          class_indices=classes, stride=stride, score_threshold=min_score,
                                          nms_iou=nms_iou)
        if top_k:
            request.top_k = top_k
        reply = self.stub.Localize(request, timeout=60)
        heatmaps = {}
        for h in reply.heatmaps:
            heatmaps[h.class_index] = {"values": np.asarray(h.values, dtype=np.float32).reshape(h.height, h.width),
                                       "stride_x": h.stride_x, "stride_y": h.stride_y, "offset_x": h.offset_x,
                                       "offset_y": h.offset_y}
        detections = [(d.class_index, d.score, [d.box.x_min, d.box.y_min, d.box.x_max, d.box.y_max])
                      for d in reply.detections]
        return detections, heatmaps


class TorchBackend:
    """dense_torch.py on the ONNX file's weights: DENSE only."""

    def __init__(self, path):
        import dense_torch
        self.dense_torch = dense_torch
        self.model = dense_torch.DenseModel(path)
        self.engine = f"PyTorch reference (dense_torch.py) on {path}"
        self.methods = ["dense", "cam"]

    def describe(self):
        return self.model.labels, self.model.background, self.model.window

    def localize(self, png, gray, method, classes, stride, min_score, nms_iou, top_k=0):
        if top_k:
            raise ValueError("the PyTorch reference maps the classes it is given; --top-k is for the server")
        if method == "cam":
            heatmaps = {}
            for c in classes:
                cam = self.model.cam(gray, c)
                sy, sx = gray.shape[0] / cam.shape[0], gray.shape[1] / cam.shape[1]
                heatmaps[c] = {"values": cam, "stride_x": sx, "stride_y": sy, "offset_x": sx / 2, "offset_y": sy / 2}
            return [], heatmaps
        if method != "dense":
            raise ValueError(f"the PyTorch reference has no {method}")
        if not classes:  # every non-background class
            classes = [c for c in range(len(self.model.labels)) if c != self.model.background]
        maps, used = self.model.dense(gray, stride)
        wh, ww = self.model.window
        heatmaps = {c: {"values": maps[c], "stride_x": used, "stride_y": used, "offset_x": ww / 2.0,
                        "offset_y": wh / 2.0} for c in classes}
        detections = self.dense_torch.detections_from_maps(maps, used, self.model.window, classes, min_score, nms_iou)
        return detections, heatmaps


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------------------- evaluation

def load_scenes(folder, limit):
    with open(os.path.join(folder, "scenes.json")) as f:
        summary = json.load(f)
    scenes = summary["scenes"][:limit] if limit else summary["scenes"]
    return summary["class_names"], scenes


def read_scene(folder, scene):
    import cv2
    path = os.path.join(folder, scene["file"])
    with open(path, "rb") as f:
        png = f.read()
    gray = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    return png, gray


def evaluate_dense(backend, args, scene_names, scenes, labels, background):
    to_model = {}
    for i, name in enumerate(scene_names):
        if name not in labels:
            raise RuntimeError(f"scene class '{name}' is not a label of the model ({labels})")
        to_model[i] = labels.index(name)
    classes = [c for c in range(len(labels)) if c != background]
    per_scene, pointing_hits, pointing_total = [], 0, 0
    started = time.time()
    for scene in scenes:
        png, gray = read_scene(args.scenes, scene)
        # Every non-background class by name: the RPC's own default is only the scene's top 5 (--top-k asks for that).
        asked = [] if args.top_k else classes
        detections, heatmaps = backend.localize(png, gray, "dense", asked, args.stride, args.min_score, args.nms_iou,
                                                args.top_k)
        truths = [(to_model[item["label"]], item["box"]) for item in scene["items"]]
        per_scene.append((detections, truths))
        for c in sorted({c for c, _ in truths}):
            pointing_total += 1
            pointing_hits += c in heatmaps and any(inside(peak_point(heatmaps[c]), box) for k, box in truths if k == c)
    seconds = time.time() - started
    result = detection_metrics(per_scene, classes, args.iou, args.threshold)
    result["pointing"] = pointing_hits / pointing_total if pointing_total else float("nan")
    result["pointing_counts"] = [pointing_hits, pointing_total]
    result["seconds_per_scene"] = seconds / max(1, len(scenes))
    return result


def evaluate_cam(backend, args, scene_names, scenes, labels, method):
    """Pointing game of CAM or Grad-CAM on single-item crops (the true class's map, the item's tight box)."""
    import cv2
    hits = total = 0
    for scene in scenes:
        _, gray = read_scene(args.scenes, scene)
        for item in scene["items"]:
            if total == args.cam_crops:
                return hits / total if total else float("nan"), total
            x0, y0, x1, y1 = item["box"]
            cx0, cy0 = max(0, x0 - args.cam_margin), max(0, y0 - args.cam_margin)
            cx1, cy1 = min(gray.shape[1], x1 + args.cam_margin), min(gray.shape[0], y1 + args.cam_margin)
            crop = gray[cy0:cy1, cx0:cx1]
            ok, png = cv2.imencode(".png", crop)
            if not ok:
                raise RuntimeError("cannot encode a crop as PNG")
            c = labels.index(scene_names[item["label"]])
            _, heatmaps = backend.localize(png.tobytes(), crop, method, [c], 0, 1.0, args.nms_iou)
            tx0, ty0, tx1, ty1 = item["tight_box"]
            hits += inside(peak_point(heatmaps[c]), [tx0 - cx0, ty0 - cy0, tx1 - cx0, ty1 - cy0])
            total += 1
    return hits / total if total else float("nan"), total


def print_report(result, labels, backend, args, scenes):
    items = sum(len(s["items"]) for s in scenes)
    print(f"engine: {backend.engine}")
    print(f"scenes: {args.scenes} ({len(scenes)} scenes, {items} items); stride {args.stride or 'natural'}, "
          f"NMS IoU {args.nms_iou}, detections from score {args.min_score}")
    for c, ap in sorted(result["ap"].items()):
        print(f"  AP@{args.iou} {labels[c]:<12} {ap:.4f}")
    print(f"mAP@{args.iou}: {result['map']:.4f}")
    print(f"at score >= {args.threshold}: recall {result['recall']:.4f} ({result['tp']}/{result['truths']}), "
          f"precision {result['precision']:.4f} ({result['tp']}/{result['tp'] + result['fp']})")
    hits, total = result["pointing_counts"]
    print(f"pointing game (dense): {result['pointing']:.4f} ({hits}/{total})")
    for method in ("cam", "grad-cam"):
        if method in result:
            print(f"pointing game ({method}, {result[method + '_crops']} single-item crops, margin "
                  f"{args.cam_margin} px): {result[method]:.4f}")
    if "agreement" in result:
        window, dense, agree = result["agreement"]
        print(f"first {args.agreement} test images alone on black: per-window accuracy {window:.4f}, dense-cell "
              f"accuracy {dense:.4f}, top-1 agreement {agree:.4f}")
    print(f"{result['seconds_per_scene'] * 1000:.1f} ms per scene (whole call, shared machine)")


# -------------------------------------------------------------------------------------------------------- self-test

def self_test():
    """Hand-made cases whose metrics are known."""
    failures = []

    def check(name, got, want):
        if not (abs(got - want) < 1e-9 or (np.isnan(got) and np.isnan(want))):
            failures.append(f"{name}: got {got}, want {want}")

    a = [0, 0, 28, 28]
    far = [100, 100, 128, 128]
    check("iou same", iou(a, a), 1.0)
    check("iou shifted 14 px", iou(a, [14, 0, 42, 28]), 392 / (2 * 784 - 392))
    check("iou disjoint", iou(a, far), 0.0)
    # Every truth found once, no false positives: AP 1 for each class.
    perfect = detection_metrics([([(0, 0.9, a), (1, 0.8, far)], [(0, a), (1, far)])], [0, 1], 0.5, 0.5)
    check("perfect mAP", perfect["map"], 1.0)
    check("perfect recall", perfect["recall"], 1.0)
    check("perfect precision", perfect["precision"], 1.0)
    # Ranked TP, FP, TP over 2 truths: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP = 1/2 * 1 + 1/2 * 2/3.
    ranked = detection_metrics([([(0, 0.9, a), (0, 0.8, [50, 50, 78, 78]), (0, 0.7, far)], [(0, a), (0, far)])],
                               [0], 0.5, 0.75)
    check("TP FP TP AP", ranked["map"], 0.5 + 0.5 * 2 / 3)
    check("TP FP TP recall at 0.75", ranked["recall"], 0.5)
    check("TP FP TP precision at 0.75", ranked["precision"], 0.5)
    # A duplicate on a matched truth is a false positive; a box with IoU < 0.5 matches nothing; the class with no
    # detection has AP 0 and pulls the mean down.
    dup = detection_metrics([([(0, 0.9, a), (0, 0.8, [1, 1, 29, 29]), (0, 0.6, [10, 10, 38, 38])],
                              [(0, a), (0, [10, 12, 38, 40]), (1, far)])], [0, 1], 0.5, 0.0)
    # Class 0: TP(0.9) on a; 0.8 duplicates a (FP); 0.6 has IoU 26*28/(2*784-728)=0.867 with the second truth (TP).
    # Precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP 0.8333; class 1 AP 0; mAP 0.41667.
    check("duplicate AP class 0", dup["ap"][0], 0.5 + 0.5 * 2 / 3)
    check("missing class AP", dup["ap"][1], 0.0)
    check("duplicate mAP", dup["map"], (0.5 + 0.5 * 2 / 3) / 2)
    check("duplicate recall", dup["recall"], 2 / 3)
    check("duplicate precision", dup["precision"], 2 / 3)
    # IoU just under 0.5: 28x28 boxes offset by 10 px in x give 18*28/(1568-504) = 0.4737.
    low = detection_metrics([([(0, 0.9, [10, 0, 38, 28])], [(0, a)])], [0], 0.5, 0.5)
    check("IoU 0.47 is a miss", low["map"], 0.0)
    # Across scenes the ranking is global: scene 1 FP at 0.95 ranks first.
    two = detection_metrics([([(0, 0.95, far)], [(0, a)]), ([(0, 0.5, a)], [(0, a)])], [0], 0.5, 0.5)
    # Scene 1: FP 0.95 (its truth missed); scene 2: TP 0.5. Ranked FP, TP over 2 truths: precision 0, 1/2 at recall
    # 0, 1/2 -> AP = 1/2 * 1/2 = 0.25.
    check("two scenes AP", two["map"], 0.25)
    # Pointing: peak cell (row 1, col 2) of a stride-4 map with offset 14 is pixel (22, 18).
    heat = {"values": np.array([[0, 0, 0], [0, 0, 1.0]]), "stride_x": 4, "stride_y": 4, "offset_x": 14,
            "offset_y": 14}
    point = peak_point(heat)
    check("peak x", point[0], 22)
    check("peak y", point[1], 18)
    check("inside", float(inside(point, [0, 0, 28, 28])), 1.0)
    check("outside (exclusive end)", float(inside(point, [0, 0, 22, 28])), 0.0)
    for f in failures:
        print("FAIL " + f)
    print(f"self-test: {'all passed' if not failures else f'{len(failures)} failed'}")
    return 0 if not failures else 1


# ------------------------------------------------------------------------------------------------------------- main

def run(backend, args):
    labels, background, _ = backend.describe()
    scene_names, scenes = load_scenes(args.scenes, args.limit)
    result = evaluate_dense(backend, args, scene_names, scenes, labels, background)
    if args.cam_crops > 0:
        for method in backend.methods[1:]:
            result[method], result[method + "_crops"] = evaluate_cam(backend, args, scene_names, scenes, labels,
                                                                     method)
    if args.agreement > 0:
        if not isinstance(backend, TorchBackend):
            raise RuntimeError("--agreement needs --torch-model")
        images, truth = make_scenes.load_test_set(args.data)
        result["agreement"] = backend.dense_torch.window_agreement(backend.model, images[:args.agreement],
                                                                  truth[:args.agreement])
    print_report(result, labels, backend, args, scenes)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({**result, "ap": {labels[c]: v for c, v in result["ap"].items()}, "engine": backend.engine},
                      f, indent=1)
    failed = []
    if result["map"] < args.min_map:
        failed.append(f"mAP {result['map']:.4f} < {args.min_map}")
    if result["pointing"] < args.min_pointing:
        failed.append(f"pointing {result['pointing']:.4f} < {args.min_pointing}")
    for f in failed:
        print("FAIL " + f)
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", help="folder written by make_scenes.py")
    parser.add_argument("--generate", action="store_true",
                        help="compose the scenes first into a temporary folder, with make_scenes.py's options below")
    parser.add_argument("--server", help="address of a running fovea-server")
    parser.add_argument("--server-bin", help="start this fovea-server on a free 127.0.0.1 port")
    parser.add_argument("--models", help="model repository for --server-bin")
    parser.add_argument("--torch-model", help="use the PyTorch reference on this ONNX file instead of a server")
    parser.add_argument("--model", default="fashion-mnist")
    parser.add_argument("--version", type=int, default=0, help="0: the latest")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N scenes of --scenes")
    parser.add_argument("--stride", type=int, default=0, help="0: the model's natural stride")
    parser.add_argument("--min-score", type=float, default=0.05, help="lowest detection score requested")
    parser.add_argument("--threshold", type=float, default=0.5, help="operating point for recall and precision")
    parser.add_argument("--nms-iou", type=float, default=0.3)
    parser.add_argument("--top-k", type=int, default=0,
                        help="0: map every non-background class; K: leave the classes to the server's top K")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for a detection to match a truth")
    parser.add_argument("--cam-crops", type=int, default=0, help="CAM/Grad-CAM pointing game on N single-item crops")
    parser.add_argument("--cam-margin", type=int, default=14)
    parser.add_argument("--agreement", type=int, default=0,
                        help="with --torch-model: per-window vs dense-cell top-1 on the first N test images")
    parser.add_argument("--min-map", type=float, default=0.0, help="exit 1 below this mAP")
    parser.add_argument("--min-pointing", type=float, default=0.0, help="exit 1 below this pointing-game accuracy")
    parser.add_argument("--json-out", help="also write the numbers as JSON")
    parser.add_argument("--self-test", action="store_true", help="check the metric code on hand-made cases")
    make_scenes.add_arguments(parser.add_argument_group("scene generation (--generate)"))
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    if bool(args.scenes) == args.generate or sum(map(bool, (args.server, args.server_bin, args.torch_model))) != 1:
        parser.error("need --scenes or --generate, and exactly one of --server, --server-bin (with --models), "
                     "--torch-model")
    make_scenes.check_arguments(parser, args)
    with tempfile.TemporaryDirectory() as workdir:
        if args.generate:
            args.scenes = os.path.join(workdir, "scenes")
            print("composed " + make_scenes.write_scenes(args.scenes, args))
        if args.torch_model:
            return run(TorchBackend(args.torch_model), args)
        server = None
        address = args.server
        if args.server_bin:
            if not args.models:
                parser.error("--server-bin needs --models")
            address = f"127.0.0.1:{free_port()}"
            server = subprocess.Popen([args.server_bin, "--address", address, "--model-repository", args.models,
                                       "--metrics-port", "0", "--http-port", "0"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            backend = ServerBackend(address, args.model, args.version, workdir)
            backend.wait_ready(SERVER_START_SECONDS if server else 5)
            return run(backend, args)
        finally:
            if server is not None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    server.kill()


if __name__ == "__main__":
    sys.exit(main())
