#!/usr/bin/python3
"""Composes cluttered scenes from Fashion-MNIST *test* images, with ground-truth boxes, for the localization benchmark.

Each scene is a black canvas (width and height each drawn from [--min-size, --max-size]) holding 1 to --max-items
Fashion-MNIST test images pasted at whole-pixel positions, their 28x28 windows never overlapping (and at least --gap
pixels apart), plus up to --distractors fragments: crops of 8-14 px per side taken from other test images, pasted
where they touch no item window. Everything is deterministic given --seed.

Ground truth (scenes.json in --out, next to scene_NNNN.png):
  - "box": the item's 28x28 window [x_min, y_min, x_max, y_max] in canvas pixels, x_max/y_max exclusive. This is the
    box the evaluator scores against: a dense sliding-window detector reports the window at its peak, the same
    kind of box.
  - "tight_box": the bounding box of the item's nonzero pixels, same convention, for reference.
  - "label" (Fashion-MNIST class index) and "name"; "test_index" (index into t10k) for provenance.
Distractors are listed with their box and source test_index; they are not objects to detect.

usage: /usr/bin/python3 bench/localize/make_scenes.py --out DIR [--count 200] [--seed 1] [--distractors 0]
"""
import argparse
import gzip
import json
import os
import sys

import cv2
import numpy as np

DATASET = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
ITEM = 28
PLACEMENT_ATTEMPTS = 200


def read_idx(path):
    """An IDX file (gzipped or not) as a numpy array of its declared shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_test_set(data_dir):
    images = read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"))
    return images, labels


def overlaps(box, boxes, gap):
    """Whether `box` comes closer than `gap` pixels to any of `boxes` (all [x0, y0, x1, y1], exclusive ends)."""
    x0, y0, x1, y1 = box
    return any(x0 < b[2] + gap and b[0] < x1 + gap and y0 < b[3] + gap and b[1] < y1 + gap for b in boxes)


def tight_box(image, x, y):
    ys, xs = np.nonzero(image)
    if len(xs) == 0:
        return [x, y, x + ITEM, y + ITEM]
    return [int(x + xs.min()), int(y + ys.min()), int(x + xs.max() + 1), int(y + ys.max() + 1)]


def fragment(rng, image):
    """A crop of 8-14 px per side, the best-filled of three candidate positions (fragments are rarely empty)."""
    h, w = int(rng.integers(8, 15)), int(rng.integers(8, 15))
    best = None
    for _ in range(3):
        y, x = int(rng.integers(0, ITEM - h + 1)), int(rng.integers(0, ITEM - w + 1))
        crop = image[y:y + h, x:x + w]
        if best is None or int(crop.sum()) > int(best.sum()):
            best = crop
    return best


def make_scene(rng, images, labels, args):
    width = int(rng.integers(args.min_size, args.max_size + 1))
    height = int(rng.integers(args.min_size, args.max_size + 1))
    canvas = np.zeros((height, width), dtype=np.uint8)
    wanted = int(rng.integers(args.min_items, args.max_items + 1))
    items, windows = [], []
    for _ in range(PLACEMENT_ATTEMPTS):
        if len(items) == wanted:
            break
        x, y = int(rng.integers(0, width - ITEM + 1)), int(rng.integers(0, height - ITEM + 1))
        box = [x, y, x + ITEM, y + ITEM]
        if overlaps(box, windows, args.gap):
            continue
        index = int(rng.integers(0, len(images)))
        canvas[y:y + ITEM, x:x + ITEM] = images[index]
        windows.append(box)
        label = int(labels[index])
        items.append({"label": label, "name": CLASS_NAMES[label], "test_index": index, "box": box,
                      "tight_box": tight_box(images[index], x, y)})
    distractors = []
    used = {item["test_index"] for item in items}
    for _ in range(args.distractors):
        index = int(rng.integers(0, len(images)))
        if index in used:
            continue
        crop = fragment(rng, images[index])
        h, w = crop.shape
        for _ in range(PLACEMENT_ATTEMPTS):
            x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            box = [x, y, x + w, y + h]
            # Fragments stay off the item windows; they may touch or overlap each other.
            if not overlaps(box, windows, 0):
                canvas[y:y + h, x:x + w] = np.maximum(canvas[y:y + h, x:x + w], crop)
                distractors.append({"test_index": index, "box": box})
                break
    return canvas, items, distractors


def add_arguments(parser):
    """The scene options, shared with evaluate.py --generate."""
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-size", type=int, default=96)
    parser.add_argument("--max-size", type=int, default=224)
    parser.add_argument("--min-items", type=int, default=1)
    parser.add_argument("--max-items", type=int, default=4)
    parser.add_argument("--gap", type=int, default=0, help="minimum pixels between item windows (default 0: may touch)")
    parser.add_argument("--distractors", type=int, default=0, help="fragments attempted per scene (default 0: clean)")
    parser.add_argument("--data", default=DATASET, help="folder with t10k-images/labels-idx*-ubyte.gz")


def check_arguments(parser, args):
    if not (ITEM <= args.min_size <= args.max_size) or not (1 <= args.min_items <= args.max_items):
        parser.error("need 28 <= --min-size <= --max-size and 1 <= --min-items <= --max-items")


def write_scenes(out, args):
    """Composes args.count scenes into `out` (created): scene_NNNN.png and scenes.json. Returns a one-line summary."""
    images, labels = load_test_set(args.data)
    rng = np.random.default_rng(args.seed)
    os.makedirs(out, exist_ok=True)
    scenes = []
    for i in range(args.count):
        canvas, items, distractors = make_scene(rng, images, labels, args)
        name = f"scene_{i:04d}.png"
        if not cv2.imwrite(os.path.join(out, name), canvas):
            raise OSError(f"make_scenes: cannot write {name} in {out}")
        scenes.append({"file": name, "width": canvas.shape[1], "height": canvas.shape[0], "items": items,
                       "distractors": distractors})
    options = ("count", "seed", "min_size", "max_size", "min_items", "max_items", "gap", "distractors")
    summary = {
        "source": "fashion-mnist t10k",
        "options": {k: getattr(args, k) for k in options},
        "box": "28x28 item window [x_min, y_min, x_max, y_max], exclusive ends; tight_box: nonzero pixels",
        "class_names": CLASS_NAMES,
        "scenes": scenes,
    }
    with open(os.path.join(out, "scenes.json"), "w") as f:
        json.dump(summary, f, indent=1)
    n_items = sum(len(s["items"]) for s in scenes)
    n_distractors = sum(len(s["distractors"]) for s in scenes)
    return f"{len(scenes)} scenes ({n_items} items, {n_distractors} distractors) in {out}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder (created); scenes.json + scene_NNNN.png")
    add_arguments(parser)
    args = parser.parse_args()
    check_arguments(parser, args)
    try:
        print("wrote " + write_scenes(args.out, args))
    except OSError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
