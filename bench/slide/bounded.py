#!/usr/bin/python3
"""Issue 24's bounded-memory, replica and detection measurement: a generated slide (default 40,000 x 40,000) mapped by
`fovea slide` with default flags through two fovea-server replicas (`--server A,B`), the bundled model.

Reports the client's peak RSS (/usr/bin/time), each server's peak RSS (VmHWM at the end) and how many tile requests
each served (its log), the run's summary (tiles, background skipped, seconds, megapixels/s), and the detections
against the generator's truth: recall and precision at IoU >= 0.5 with the same class, each truth item matched at most
once, best score first.

usage: /usr/bin/python3 bench/slide/bounded.py [--size 40000] [--slide PATH --truth PATH] [--work DIR]
       [-- FOVEA_SLIDE_FLAGS...]  (e.g. -- --concurrency 2 --no-viewer)
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import oip_grpc_test as harness  # noqa: E402  (the server process and stub helpers)


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024


def iou(a, b):
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def box_of(feature):
    ring = feature["geometry"]["coordinates"][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return [min(xs), min(ys), max(xs), max(ys)]


def recall_precision(truth_path, detections_path):
    with open(truth_path) as f:
        truth = [(ft["properties"]["classification"]["name"], box_of(ft)) for ft in json.load(f)["features"]]
    with open(detections_path) as f:
        found = [(ft["properties"]["classification"]["name"], ft["properties"]["score"], box_of(ft))
                 for ft in json.load(f)["features"]]
    found.sort(key=lambda d: -d[1])
    cell = 64  # truth boxes bucketed by position: each detection looks at its neighbourhood only
    buckets = {}
    for index, (_, box) in enumerate(truth):
        buckets.setdefault((int(box[0] // cell), int(box[1] // cell)), []).append(index)
    matched, hits = set(), 0
    for name, _, box in found:
        bx, by = int(box[0] // cell), int(box[1] // cell)
        best, best_iou = None, 0.5
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for index in buckets.get((bx + dx, by + dy), []):
                    if index in matched or truth[index][0] != name:
                        continue
                    overlap = iou(box, truth[index][1])
                    if overlap >= best_iou:
                        best, best_iou = index, overlap
        if best is not None:
            matched.add(best)
            hits += 1
    return len(truth), len(found), hits / max(1, len(truth)), hits / max(1, len(found))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=40000)
    parser.add_argument("--slide")
    parser.add_argument("--truth")
    parser.add_argument("--work", help="where the slide and outputs go (default: a temporary folder, removed)")
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    args, slide_flags = parser.parse_known_args()
    slide_flags = [f for f in slide_flags if f != "--"]
    work = args.work or tempfile.mkdtemp(prefix="fovea-slide-bounded-")
    os.makedirs(work, exist_ok=True)
    try:
        slide, truth = args.slide, args.truth
        if not slide:
            slide, truth = os.path.join(work, "slide.tif"), os.path.join(work, "truth.geojson")
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "slide", "make_slide.py"), "--width",
                            str(args.size), "--height", str(args.size), "--compression", "jpeg", "--seed", "1",
                            "--out", slide, "--truth", truth], check=True)
        stubs = os.path.join(work, "stubs")
        os.makedirs(stubs, exist_ok=True)
        pb, pb_grpc, _, _ = harness.generate_stubs(os.path.join(ROOT, "proto"), stubs)
        server_bin = os.path.join(args.build, "bin", "fovea-server")
        replicas = [harness.Server(pb, pb_grpc, server_bin=server_bin, repository=os.path.join(ROOT, "models"))
                    for _ in range(2)]
        out = os.path.join(work, "maps")
        try:
            command = ["/usr/bin/time", "-v", os.path.join(args.build, "bin", "fovea"), "slide", "--server",
                       ",".join(r.address for r in replicas), "--out", out, *slide_flags, slide]
            result = subprocess.run(command, capture_output=True, text=True)
            print(result.stdout, end="")
            if result.returncode != 0:
                print(result.stderr)
                return 1
            client_mb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)) / 1024
            servers = [(peak_rss_mb(r.process.pid), r.log_text().count("Localize OK")) for r in replicas]
        finally:
            for r in replicas:
                r.stop()
        name = os.path.splitext(os.path.basename(slide))[0]
        with open(os.path.join(out, name + ".json")) as f:
            summary = json.load(f)
        items, detections, recall, precision = recall_precision(truth, os.path.join(out, name + ".geojson"))
        tiles = summary["tiles"]
        print(f"\n`fovea slide` flags: {' '.join(slide_flags) or '(defaults)'}")
        print(f"\n| slide | tiles | background skipped | mapping s | MP/s | client peak RSS | server peak RSS "
              f"(requests) | detections / items | recall | precision |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        print(f"| {summary['width']}x{summary['height']} | {tiles['total']} | {tiles['skipped_background']} "
              f"({tiles['skipped_background'] / tiles['total']:.1%}) | {summary['mapping_seconds']:.0f} | "
              f"{summary['megapixels_per_second']:.2f} | {client_mb:.0f} MB | "
              + ", ".join(f"{mb:.0f} MB ({n})" for mb, n in servers)
              + f" | {detections} / {items} | {recall:.3f} | {precision:.3f} |")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
