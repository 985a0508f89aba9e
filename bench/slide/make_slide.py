#!/usr/bin/python3
"""Writes a synthetic whole-slide image: Fashion-MNIST *test* items on dark textured "tissue" between bright empty
"glass", as a pyramidal tiled TIFF, with the items' ground truth as GeoJSON, for testing whole-slide heatmaps.

The slide looks like what the bundled classifier was trained on: bright items on (nearly) black. Tissue is a few large
blobs of dark, slightly tinted smooth noise (values about 0-40) covering about 1 - --glass-fraction of the slide, with
glass (about 225-245) around them, so an Otsu threshold on a low-resolution grayscale level separates the two. Each
item is a 28x28 test image upscaled --scale times (each pixel a --scale x --scale block), pasted as
max(background, item), wholly inside tissue, its window at least --gap pixels from every other window.
Everything is deterministic given --seed (and the size and options).

Memory stays bounded whatever the size (up to 100,000 x 100,000): the tissue field lives on a lattice of at most
~1024 points a side and is interpolated per band (one row of tiles), the texture repeats two small periodic tiles of
coprime periods, and each band pastes the items that cross it. tifffile streams level 0 into a temporary BigTIFF
next to --out (deflate level 1 whatever --compression: lossless, fast, and tifffile has no JPEG encoder without
imagecodecs); `vips tiffsave --pyramid` then writes the slide, each level an IFD of the main chain (no SubIFDs),
which OpenSlide reads as a generic-tiff slide.

Ground truth (--truth): a GeoJSON FeatureCollection that QuPath imports, one Feature per item, in level-0 pixels:
  - geometry: the item's window, a Polygon [x, y] .. [x + 28*scale, y + 28*scale] (exclusive ends, closed ring);
  - properties: objectType "annotation", classification {"name": class name}, "name", "label" (class index),
    "test_index" (index into t10k), "tight_box" [x0, y0, x1, y1] of the item's nonzero pixels (exclusive ends).
The top-level member "fovea" records the slide size, seed, options and measured tissue fraction.

usage: /usr/bin/python3 bench/slide/make_slide.py --width W --height H --out SLIDE.tif --truth TRUTH.geojson
           [--items N] [--seed 1] [--scale 1] [--tile 256] [--compression deflate|jpeg|none] [--gap 8*scale]
           [--glass-fraction 0.5] [--mpp 0.25]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import tifffile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "localize"))
import make_scenes  # noqa: E402 (the IDX reader, class names and box conventions of the scene benchmark)

MAX_SIDE = 100_000
LATTICE_SIDE = 1024          # tissue field points along the longer side
CHUNK = 4096                 # band columns rendered at once: bounds the float temporaries at any width
TEXTURE_PERIODS = (509, 383)  # coprime, so the sum repeats only every 194,947 px
ALPHA_LEVELS = 16            # tissue/glass blend steps at the soft tissue edge
EDGE_PX = 3                  # width of that edge
PLACEMENT_BATCH = 4096
PROGRESS_SECONDS = 5.0
# vips 8.14 deflates at libtiff's fixed level, on one core (about 5 MP/s here): the pyramid is most of the run time.
# Its default horizontal predictor makes that 30% slower for no smaller file on this texture, so it is off.
VIPS_COMPRESSION = {"deflate": ["deflate", "--predictor", "none"], "jpeg": ["jpeg", "--Q", "90"], "none": ["none"]}


def tissue_field(rng, width, height, glass_fraction):
    """The tissue lattice: smooth multi-scale noise, fading at the slide border so tissue sits on glass, with the
    threshold giving the wanted glass fraction and the blend width giving an edge of about EDGE_PX pixels."""
    step = max(1, math.ceil(max(width, height) / LATTICE_SIDE))
    h, w = math.ceil(height / step), math.ceil(width / step)
    field = np.zeros((h, w), np.float32)
    for cells, weight in ((3, 1.0), (12, 0.35), (48, 0.12)):
        noise = rng.standard_normal((math.ceil(cells * h / max(h, w)) + 1, math.ceil(cells * w / max(h, w)) + 1))
        field += weight * cv2.resize(noise.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    ys, xs = np.mgrid[0:h, 0:w]
    radius = np.hypot((xs + 0.5) / w - 0.5, (ys + 0.5) / h - 0.5) * 2  # 1 at the middle of each side
    field -= 1.8 * float(field.std()) * radius ** 4
    threshold = float(np.quantile(field, glass_fraction))
    gy, gx = np.gradient(field)
    near = np.abs(field - threshold) < 0.1 * field.std()
    per_pixel = float(np.median(np.hypot(gx, gy)[near] if near.any() else np.hypot(gx, gy))) / step
    return {"field": field, "step": step, "threshold": threshold, "soft": max(EDGE_PX * per_pixel, 1e-6)}


def lattice_coordinates(positions, step, size):
    """Lower lattice index and weight of the next one for pixel centres (bilinear, clamped at the border)."""
    f = np.clip((positions + 0.5) / step - 0.5, 0, size - 1)
    low = np.minimum(f.astype(np.int32), size - 1)
    return low, np.minimum(low + 1, size - 1), (f - low).astype(np.float32)


def periodic_texture(rng, period, sigma):
    """Smooth noise that wraps around (blurred as a 3x3 tiling, the centre kept), stretched to uint8 halves."""
    noise = rng.standard_normal((period, period)).astype(np.float32)
    blurred = cv2.GaussianBlur(np.tile(noise, (3, 3)), (0, 0), sigma)[period:2 * period, period:2 * period]
    lo, hi = np.percentile(blurred, (1, 99))
    return (np.clip((blurred - lo) / (hi - lo), 0, 1) * 127).astype(np.uint8)


def colour_table(textures):
    """RGB for (blend level, texture value): dark tinted tissue at level ALPHA_LEVELS, near-white glass at 0."""
    sample = (textures[0][:TEXTURE_PERIODS[1], :TEXTURE_PERIODS[1]] + textures[1]).ravel()
    lo, hi = np.percentile(sample, (1, 99))
    u = np.clip((np.arange(256) - lo) / (hi - lo), 0, 1)[None, :, None]
    tissue = (4 + 36 * u) * np.array([1.0, 0.78, 0.92])
    glass = (228 + 14 * u) * np.array([0.99, 0.99, 1.0])
    a = (np.arange(ALPHA_LEVELS + 1) / ALPHA_LEVELS)[:, None, None]
    return np.rint(glass * (1 - a) + tissue * a).astype(np.uint8).reshape(-1, 3)


def solid_tissue_counts(tissue):
    """Prefix sums of the lattice points that render as pure tissue, to test an item window in O(1)."""
    solid = (tissue["field"] >= tissue["threshold"] + tissue["soft"]).astype(np.int64)
    counts = np.zeros((solid.shape[0] + 1, solid.shape[1] + 1), np.int64)
    counts[1:, 1:] = solid.cumsum(0).cumsum(1)
    return counts


def inside_tissue(counts, step, x, y, side):
    """Whether the windows at (x, y) (arrays) lie wholly on pure tissue: every lattice point their pixels
    interpolate from is solid."""
    h, w = counts.shape[0] - 1, counts.shape[1] - 1
    c0 = lattice_coordinates(x, step, w)[0]
    c1 = lattice_coordinates(x + side - 1, step, w)[1]
    r0 = lattice_coordinates(y, step, h)[0]
    r1 = lattice_coordinates(y + side - 1, step, h)[1]
    inside = counts[r1 + 1, c1 + 1] - counts[r0, c1 + 1] - counts[r1 + 1, c0] + counts[r0, c0]
    return inside == (r1 - r0 + 1) * (c1 - c0 + 1)


def place_items(rng, counts, step, args, side, wanted):
    """Random non-overlapping window positions on pure tissue, `gap` apart (a grid of cells one window + gap wide,
    so only the 3x3 neighbouring cells can conflict). Fails after too many rejected candidates."""
    cell, grid, placed, tried = side + args.gap, {}, [], 0
    while len(placed) < wanted and tried < 20 * wanted + 100_000:
        xs = rng.integers(0, args.width - side + 1, PLACEMENT_BATCH)
        ys = rng.integers(0, args.height - side + 1, PLACEMENT_BATCH)
        ok = inside_tissue(counts, step, xs, ys, side)
        for x, y in zip(xs[ok].tolist(), ys[ok].tolist()):
            near = [b for i in (-1, 0, 1) for j in (-1, 0, 1) for b in grid.get((x // cell + i, y // cell + j), ())]
            box = [x, y, x + side, y + side]
            if not make_scenes.overlaps(box, near, args.gap):
                grid.setdefault((x // cell, y // cell), []).append(box)
                placed.append((x, y))
                if len(placed) == wanted:
                    break
        tried += PLACEMENT_BATCH
    if len(placed) < wanted:
        raise ValueError(f"only {len(placed)} of {wanted} items fit on the tissue after {tried} tries; lower --items, "
                         "--scale, --gap or --glass-fraction, or enlarge the slide")
    return placed


def choose_items(rng, images, labels, positions, scale):
    """Items sorted by y, each a distinct test image while there are fewer than 10,000 of them."""
    order = np.concatenate([rng.permutation(len(images)) for _ in range(len(positions) // len(images) + 1)])
    items = []
    for (x, y), index in zip(positions, order.tolist()):
        x0, y0, x1, y1 = make_scenes.tight_box(images[index], 0, 0)
        items.append({"x": x, "y": y, "test_index": index, "label": int(labels[index]),
                      "tight_box": [x + x0 * scale, y + y0 * scale, x + x1 * scale, y + y1 * scale]})
    return sorted(items, key=lambda item: (item["y"], item["x"]))


def render_region(scene, y0, y1, x0, x1):
    """Pixels [y0, y1) x [x0, x1) of the background, RGB uint8, and the sum of its tissue weights."""
    tissue, (t1, t2) = scene["tissue"], scene["textures"]
    field, step = tissue["field"], tissue["step"]
    ys, xs = np.arange(y0, y1), np.arange(x0, x1)
    r0, r1, ry = lattice_coordinates(ys, step, field.shape[0])
    c0, c1, cx = lattice_coordinates(xs, step, field.shape[1])
    rows = field[r0] * (1 - ry[:, None]) + field[r1] * ry[:, None]
    values = rows[:, c0] * (1 - cx) + rows[:, c1] * cx
    level = np.clip((values - tissue["threshold"]) * (ALPHA_LEVELS / tissue["soft"]), 0, ALPHA_LEVELS)
    level = np.rint(level).astype(np.uint16)
    texture = t1[ys % t1.shape[0]][:, xs % t1.shape[1]] + t2[ys % t2.shape[0]][:, xs % t2.shape[1]]
    return scene["colours"][(level << 8) | texture], int(level.sum()) / ALPHA_LEVELS


def paste_items(pixels, items, y0, x0, scene):
    """Max-composites the parts of `items` that fall inside `pixels` (whose corner is (x0, y0))."""
    side, scale = scene["side"], scene["scale"]
    for item in items:
        x, y = item["x"], item["y"]
        ix0, iy0 = max(x, x0), max(y, y0)
        ix1, iy1 = min(x + side, x0 + pixels.shape[1]), min(y + side, y0 + pixels.shape[0])
        if ix0 >= ix1 or iy0 >= iy1:
            continue
        image = np.repeat(np.repeat(scene["images"][item["test_index"]], scale, 0), scale, 1)
        part = image[iy0 - y:iy1 - y, ix0 - x:ix1 - x, None]
        region = pixels[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
        np.maximum(region, part, out=region)


def slide_tiles(scene, args, stats):
    """Level-0 tiles in row-major order, rendered one band (row of tiles) at a time, CHUNK columns at once."""
    tile, started, last = args.tile, time.monotonic(), time.monotonic()
    item_ys = np.array([item["y"] for item in scene["items"]], dtype=np.int64)
    bands = math.ceil(args.height / tile)
    for band, y0 in enumerate(range(0, args.height, tile)):
        y1 = min(y0 + tile, args.height)
        first, end = np.searchsorted(item_ys, [y0 - scene["side"] + 1, y1])
        crossing = scene["items"][first:end]
        for x0 in range(0, args.width, CHUNK):
            x1 = min(x0 + CHUNK, args.width)
            pixels, tissue = render_region(scene, y0, y1, x0, x1)
            stats["tissue"] += tissue
            paste_items(pixels, [i for i in crossing if x0 - scene["side"] < i["x"] < x1], y0, x0, scene)
            for tx in range(0, x1 - x0, tile):
                yield pixels[:, tx:tx + tile]  # tifffile copies (tobytes) and pads edge tiles
        if time.monotonic() - last >= PROGRESS_SECONDS or (band + 1 == bands and last > started):
            last, rate = time.monotonic(), y1 * args.width / (time.monotonic() - started) / 1e6
            print(f"make_slide: level 0 band {band + 1}/{bands}, {rate:.1f} MP/s", file=sys.stderr, flush=True)


def write_pyramid(scene, args, stats):
    """Streams level 0 into a temporary TIFF next to --out, then lets vips write the tiled pyramid."""
    temporary = args.out + ".level0.tmp.tif"
    # vips carries the description into the slide, where OpenSlide shows it as openslide.comment.
    description = (f"Fovea synthetic slide (bench/slide/make_slide.py), fashion-mnist t10k: {args.width}x{args.height}"
                   f", seed {args.seed}, scale {args.scale}, gap {args.gap}, glass fraction {args.glass_fraction}")
    try:
        with tifffile.TiffWriter(temporary, bigtiff=True) as tiff:
            tiff.write(slide_tiles(scene, args, stats), shape=(args.height, args.width, 3), dtype=np.uint8,
                       tile=(args.tile, args.tile), photometric="rgb", compression="zlib", compressionargs={"level": 1},
                       metadata=None, description=description)
        started = time.monotonic()
        print("make_slide: building the pyramid with vips", file=sys.stderr, flush=True)
        pixels_per_mm = 1000.0 / args.mpp
        subprocess.run(["vips", "tiffsave", temporary, args.out, "--tile", "--pyramid", "--bigtiff",
                        "--tile-width", str(args.tile), "--tile-height", str(args.tile),
                        "--xres", str(pixels_per_mm), "--yres", str(pixels_per_mm),
                        "--compression", *VIPS_COMPRESSION[args.compression]], check=True)
        print(f"make_slide: pyramid in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def item_feature(item, side):
    """The item as a QuPath-importable annotation: its window as the polygon, its class as the classification."""
    x, y, name = item["x"], item["y"], make_scenes.CLASS_NAMES[item["label"]]
    ring = [[x, y], [x + side, y], [x + side, y + side], [x, y + side], [x, y]]
    return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"objectType": "annotation", "classification": {"name": name}, "name": name,
                           "label": item["label"], "test_index": item["test_index"], "tight_box": item["tight_box"]}}


def write_truth(path, scene, args, tissue_fraction):
    """The GeoJSON FeatureCollection, written a feature at a time (a 100,000^2 slide holds ~220,000 items)."""
    side = scene["side"]
    options = ("width", "height", "seed", "scale", "tile", "compression", "gap", "glass_fraction", "mpp")
    fovea = {"source": "fashion-mnist t10k", **{k: getattr(args, k) for k in options}, "items": len(scene["items"]),
             "tissue_fraction": round(tissue_fraction, 4), "class_names": make_scenes.CLASS_NAMES,
             "box": f"{side}x{side} item window, exclusive ends; tight_box: nonzero pixels"}
    with open(path, "w") as f:
        f.write('{"type":"FeatureCollection","fovea":' + json.dumps(fovea, separators=(",", ":")) + ',"features":[')
        for i, item in enumerate(scene["items"]):
            f.write(("," if i else "") + "\n" + json.dumps(item_feature(item, side), separators=(",", ":")))
        f.write("\n]}\n")


def make_slide(args):
    """Writes args.out and args.truth; returns the one-line summary."""
    started = time.monotonic()
    images, labels = make_scenes.load_test_set(args.data)
    rng = np.random.default_rng(args.seed)
    side = make_scenes.ITEM * args.scale
    tissue = tissue_field(rng, args.width, args.height, args.glass_fraction)
    textures = [periodic_texture(rng, period, sigma) for period, sigma in zip(TEXTURE_PERIODS, (1.5, 6.0))]
    counts = solid_tissue_counts(tissue)
    # Default density: one item per 150 x 150 item-scaled pixels of tissue (about 3.5% of the tissue).
    tissue_pixels = (1 - args.glass_fraction) * args.width * args.height
    wanted = args.items if args.items is not None else max(1, int(tissue_pixels / (150 * args.scale) ** 2))
    positions = place_items(rng, counts, tissue["step"], args, side, wanted)
    scene = {"tissue": tissue, "textures": textures, "colours": colour_table(textures), "images": images,
             "items": choose_items(rng, images, labels, positions, args.scale), "side": side, "scale": args.scale}
    stats = {"tissue": 0.0}
    write_pyramid(scene, args, stats)
    tissue_fraction = stats["tissue"] / (args.width * args.height)
    write_truth(args.truth, scene, args, tissue_fraction)
    return (f"{args.width}x{args.height} slide, {len(scene['items'])} items, tissue {tissue_fraction:.1%}, "
            f"{time.monotonic() - started:.1f} s, {os.path.getsize(args.out):,} bytes: {args.out}, {args.truth}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--out", required=True, help="the slide, a pyramidal tiled TIFF")
    parser.add_argument("--truth", required=True, help="the items, a GeoJSON FeatureCollection")
    parser.add_argument("--items", type=int, help="default: one per 150x150 pixels of tissue, times --scale squared")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=int, default=1, help="integer upscale of each 28x28 item")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--compression", choices=sorted(VIPS_COMPRESSION), default="deflate",
                        help="of the slide's tiles (default deflate, lossless; jpeg is Q 90)")
    parser.add_argument("--gap", type=int, help="minimum pixels between item windows (default 8 * --scale)")
    parser.add_argument("--glass-fraction", type=float, default=0.5, help="share of the slide left empty")
    parser.add_argument("--mpp", type=float, default=0.25, help="microns per pixel recorded in the TIFF")
    parser.add_argument("--data", default=make_scenes.DATASET, help="folder with t10k-images/labels-idx*-ubyte.gz")
    args = parser.parse_args()
    side = make_scenes.ITEM * args.scale if args.scale >= 1 else 0
    if args.gap is None:
        args.gap = 8 * args.scale
    if not (side and side <= min(args.width, args.height) and max(args.width, args.height) <= MAX_SIDE):
        parser.error(f"need --scale >= 1 and 28 * --scale <= --width, --height <= {MAX_SIDE}")
    if (args.tile < 16 or args.tile % 16 or args.gap < 0 or not 0 < args.glass_fraction < 1 or args.mpp <= 0
            or (args.items or 0) < 0):
        parser.error("need --tile a multiple of 16, --gap >= 0, 0 < --glass-fraction < 1, --mpp > 0, --items >= 0")
    try:
        print("wrote " + make_slide(args))
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f"make_slide: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
