"""A PyTorch reference of the dense sliding-window pass, on the weights of a Fovea ONNX classifier.

The ONNX graph (Conv, BatchNormalization, Relu, MaxPool/AveragePool, GlobalAveragePool, Flatten, Gemm, Softmax, as
fovea-train exports it) is run with torch.nn.functional; for a dense map the head is made fully convolutional,
OverFeat-style: GlobalAveragePool becomes an average pool over the feature cells of one input-sized window (stride
1 on the feature map), Gemm a 1x1 convolution, Softmax runs over channels. Map cell (row, col) is then the window
whose top-left input pixel is (row * S, col * S), S = the product of the pooling strides (the natural stride).
Padded convolutions see a window's real neighbours instead of zeros, so cells agree with per-window classification
only where those neighbours are black (scale-only normalization makes black = zero padding).

Used by evaluate.py --torch-model to tune the recipe and the detection rule before (and to compare with) the server.
"""
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def _attribute(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


class DenseModel:
    def __init__(self, path):
        model = onnx.load(path)
        self.weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
        self.nodes = list(model.graph.node)
        props = {p.key: p.value for p in model.metadata_props}
        self.labels = [label for label in props.get("fovea.labels", "").split("\n") if label]
        self.background = int(props["fovea.background_class"]) if "fovea.background_class" in props else -1
        self.window = (int(props.get("fovea.input.height", "28")), int(props.get("fovea.input.width", "28")))
        self.mean = float(props.get("fovea.input.mean", "0").split(",")[0])
        self.std = float(props.get("fovea.input.std", "1").split(",")[0])
        self.natural_stride = 1
        for node in self.nodes:
            if node.op_type in ("MaxPool", "AveragePool", "Conv"):
                self.natural_stride *= _attribute(node, "strides", [1, 1])[0]

    def _run(self, x, dense):
        values = {self.nodes[0].input[0]: x}
        fed = x
        for node in self.nodes:
            args = [values[i] if i in values else self.weights[i] for i in node.input if i]
            op = node.op_type
            if op == "Conv":
                pads = _attribute(node, "pads", [0, 0, 0, 0])
                out = F.conv2d(args[0], args[1], args[2] if len(args) > 2 else None,
                               stride=_attribute(node, "strides", [1, 1]), padding=(pads[0], pads[1]),
                               dilation=_attribute(node, "dilations", [1, 1]), groups=_attribute(node, "group", 1))
            elif op == "BatchNormalization":
                out = F.batch_norm(args[0], args[3], args[4], args[1], args[2], False, 0.0,
                                   _attribute(node, "epsilon", 1e-5))
            elif op == "Relu":
                out = F.relu(args[0])
            elif op in ("MaxPool", "AveragePool"):
                pool = F.max_pool2d if op == "MaxPool" else F.avg_pool2d
                out = pool(args[0], _attribute(node, "kernel_shape"), _attribute(node, "strides"))
            elif op == "GlobalAveragePool":
                if dense is None:  # cam(): the feature map and the classifier weights are all it needs
                    return args[0]
                if dense:
                    cells = (self.window[0] // self.natural_stride, self.window[1] // self.natural_stride)
                    out = F.avg_pool2d(args[0], cells, 1)
                else:
                    out = args[0].mean(dim=(2, 3), keepdim=True)
            elif op == "Flatten":
                out = args[0] if dense else args[0].flatten(1)
            elif op == "Gemm":
                weight = args[1] if _attribute(node, "transB", 0) else args[1].t()
                if dense:
                    out = F.conv2d(args[0], weight[:, :, None, None], args[2] if len(args) > 2 else None)
                else:
                    out = F.linear(args[0], weight, args[2] if len(args) > 2 else None)
            elif op == "Softmax":
                out = F.softmax(args[0], dim=1)
            else:
                raise ValueError(f"dense_torch: ONNX op {op} is not supported")
            values[node.output[0]] = out
            fed = out
        return fed

    def normalize(self, gray):
        return (torch.from_numpy(gray.astype(np.float32)) / 255.0 - self.mean) / self.std

    @torch.no_grad()
    def classify(self, windows):
        """Probabilities [n, classes] for n gray uint8 windows of the input size."""
        return self._run(self.normalize(windows)[:, None], dense=False).numpy()

    @torch.no_grad()
    def cam(self, gray, class_index):
        """Class activation map of one gray uint8 image resized to the input size (bilinear): the last feature map
        weighted by the class's classifier row, [rows, cols] at the feature resolution, min-max normalized."""
        import cv2
        resized = cv2.resize(gray, (self.window[1], self.window[0]), interpolation=cv2.INTER_LINEAR)
        features = self._run(self.normalize(resized)[None, None], dense=None)[0]
        gemm = next(n for n in self.nodes if n.op_type == "Gemm")
        weight = self.weights[gemm.input[1]]
        row = weight[class_index] if _attribute(gemm, "transB", 0) else weight[:, class_index]
        cam = torch.einsum("k,khw->hw", row, features).numpy()
        return (cam - cam.min()) / max(float(cam.max() - cam.min()), 1e-12)

    @torch.no_grad()
    def dense(self, gray, stride=0):
        """Probability maps [classes, rows, cols] of one gray uint8 image; cell (r, c) is the window with top-left
        (r * stride, c * stride). stride must divide the natural stride (shifted passes) or be a multiple of it."""
        s = self.natural_stride
        stride = stride or s
        if s % stride == 0:
            shifts = s // stride
            x = self.normalize(gray)
            maps = {}
            for dy in range(shifts):
                for dx in range(shifts):
                    shifted = x[dy * stride:, dx * stride:]
                    maps[(dy, dx)] = self._run(shifted[None, None], dense=True)[0].numpy()
            rows = (gray.shape[0] - self.window[0]) // stride + 1
            cols = (gray.shape[1] - self.window[1]) // stride + 1
            out = np.zeros((maps[(0, 0)].shape[0], rows, cols), dtype=np.float32)
            for (dy, dx), m in maps.items():
                r = len(range(dy, rows, shifts))
                c = len(range(dx, cols, shifts))
                out[:, dy::shifts, dx::shifts] = m[:, :r, :c]
            return out, stride
        if stride % s == 0:
            full, _ = self.dense(gray, s)
            return full[:, ::stride // s, ::stride // s], stride
        raise ValueError(f"stride {stride} neither divides nor is a multiple of the natural stride {s}")


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def detections_from_maps(maps, stride, window, classes, threshold, nms_iou):
    """Local maxima (3x3) of each class map at or above `threshold`, greedy per-class NMS at `nms_iou`, box = the
    window at the peak. Returns [(class, score, [x0, y0, x1, y1])], best first."""
    found = []
    for c in classes:
        m = maps[c]
        padded = np.pad(m, 1, constant_values=-1.0)
        neighbourhood = np.max(np.stack([padded[dy:dy + m.shape[0], dx:dx + m.shape[1]]
                                         for dy in range(3) for dx in range(3)]), axis=0)
        rows, cols = np.nonzero((m >= threshold) & (m >= neighbourhood))
        order = np.argsort(-m[rows, cols], kind="stable")
        kept = []
        for k in order:
            y, x = int(rows[k]) * stride, int(cols[k]) * stride
            box = [x, y, x + window[1], y + window[0]]
            if all(iou(box, other) <= nms_iou for _, other in kept):
                kept.append((float(m[rows[k], cols[k]]), box))
        found += [(c, score, box) for score, box in kept]
    found.sort(key=lambda d: -d[1])
    return found


@torch.no_grad()
def window_agreement(model, images, labels):
    """Per-window classification against the dense pass on the same windows: each image centred in a black canvas
    one window larger on every side (a multiple of the natural stride), its cell of the dense map compared with the
    plain classification. They differ because padded convolutions see zeros in one and the activations of the black
    surroundings in the other. Returns (per-window accuracy, dense-cell accuracy, top-1 agreement)."""
    h, w = model.window
    margin_y = -(-h // model.natural_stride) * model.natural_stride
    margin_x = -(-w // model.natural_stride) * model.natural_stride
    canvas = np.zeros((len(images), h + 2 * margin_y, w + 2 * margin_x), dtype=np.uint8)
    canvas[:, margin_y:margin_y + h, margin_x:margin_x + w] = images
    per_window = model.classify(images).argmax(axis=1)
    cells = model._run(model.normalize(canvas)[:, None], dense=True).numpy()
    dense = cells[:, :, margin_y // model.natural_stride, margin_x // model.natural_stride].argmax(axis=1)
    return float(np.mean(per_window == labels)), float(np.mean(dense == labels)), float(np.mean(per_window == dense))
