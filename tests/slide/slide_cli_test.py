#!/usr/bin/python3
"""`fovea slide` end to end: a generated pyramidal TIFF slide (bench/slide/make_slide.py) mapped by the real `fovea`
CLI through the real fovea-server serving the bundled Fashion-MNIST model.

- Exact stitching: for two tile sizes the stitched float maps equal the map of one DENSE Localize over the whole image
  (max |difference| <= 1e-5), every class.
- Background: with the tissue mask, tiles of empty glass are skipped and reported, and every cell a mapped tile wrote
  still equals the whole-image map.
- GeoJSON: parsed back; a FeatureCollection of closed Polygon boxes with the class name (QuPath's classification) and
  score in properties.
- Resume: a run killed part-way and started again recomputes only the tiles it had not finished, and its maps equal
  the whole-image map.
- A truncated slide is a clear error naming the file, with exit status 1; so are the corrupt SVS files on which
  OpenSlide crashes (tests/fuzz/openslide-crashes/, read in a child process first).
- Resolution: --downsample between two pyramid levels is read from the finer one and shrunk by libvips, and the stitched
  maps equal one dense pass over the same shrink made by the `vips` command; --mpp takes the SVS's MPP from its
  metadata, and a TIFF without a resolution refuses it.
- The viewer page (OpenSeadragon copied next to it) opened in headless Chromium from file:// with the network refused
  shows the slide and the map over it, and its slider sets the map's opacity (tests/browser/slide_viewer_check.mjs;
  it saves the screenshot the docs show).

Usage: slide_cli_test.py --fovea-bin BIN --server-bin BIN --proto-dir DIR --models DIR --make-slide SCRIPT
       --node BIN --viewer-check SCRIPT --viewer-screenshot PNG
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np
import tifffile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import oip_grpc_test as harness  # noqa: E402  (the server process and stub helpers)

ARGS = None
SAME_VALUE = 1e-5
SLIDE_WIDTH, SLIDE_HEIGHT = 1100, 900
RPC_TIMEOUT_SECONDS = 120
CLI_TIMEOUT_SECONDS = 300


def read_json(path):
    with open(path) as f:
        return json.load(f)


def line_count(path):
    with open(path) as f:
        return sum(1 for _ in f)


class SlideCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="fovea-slide-test-")
        stubs = os.path.join(cls.work, "stubs")
        os.makedirs(stubs)
        cls.pb, pb_grpc, cls.v1, v1_grpc = harness.generate_stubs(ARGS.proto_dir, stubs)
        cls.slide = os.path.join(cls.work, "slide.tif")
        cls.truth = os.path.join(cls.work, "truth.geojson")
        subprocess.run([sys.executable, ARGS.make_slide, "--width", str(SLIDE_WIDTH), "--height", str(SLIDE_HEIGHT),
                        "--items", "12", "--seed", "3", "--tile", "256", "--glass-fraction", "0.5", "--out",
                        cls.slide, "--truth", cls.truth], check=True, stdout=subprocess.DEVNULL)
        cls.server = harness.Server(cls.pb, pb_grpc, server_bin=ARGS.server_bin, repository=ARGS.models)
        cls.fovea = v1_grpc.InferenceStub(cls.server.channel)
        cls.model = cls.fovea.GetModel(cls.v1.GetModelRequest(model_name="fashion-mnist"), timeout=RPC_TIMEOUT_SECONDS)
        cls.reference = cls.whole_image_maps()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    @classmethod
    def whole_image_maps(cls):
        """[classes, rows, cols]: one DENSE Localize over the slide's full-resolution pixels."""
        return cls.dense_maps(tifffile.imread(cls.slide, key=0))

    @classmethod
    def dense_maps(cls, pixels):
        """[classes, rows, cols]: one DENSE Localize over `pixels` (height x width x 3, uint8)."""
        request = cls.v1.LocalizeRequest(model_name="fashion-mnist", method=cls.v1.LOCALIZATION_METHOD_DENSE,
                                         class_indices=list(range(cls.model.num_classes)),
                                         map_format=cls.v1.HEATMAP_FORMAT_FLOAT, render_overlays=False)
        request.image.tensor.dtype = cls.v1.DATA_TYPE_UINT8
        request.image.tensor.shape.extend(pixels.shape)
        request.image.tensor.data = pixels.tobytes()
        answer = cls.fovea.Localize(request, timeout=RPC_TIMEOUT_SECONDS)
        return np.stack([np.array(h.values, dtype=np.float32).reshape(h.height, h.width) for h in answer.heatmaps])

    def run_slide(self, out, *flags, check=True, slide=None):
        command = [ARGS.fovea_bin, "slide", "--server", self.server.address, "--out", out, *flags, slide or self.slide]
        result = subprocess.run(command, capture_output=True, text=True, timeout=CLI_TIMEOUT_SECONDS)
        if check:
            self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def stitched_maps(self, out):
        summary = read_json(os.path.join(out, "slide.json"))
        rows, cols = summary["map"]["rows"], summary["map"]["cols"]
        maps = [np.fromfile(os.path.join(out, "slide.maps", f"{slot}.f32"), dtype=np.float32).reshape(rows, cols)
                for slot in range(len(summary["map"]["classes"]))]
        return summary, np.stack(maps)

    def make_svs(self):
        """The slide's pixels as an Aperio SVS (a tiled TIFF whose description OpenSlide recognizes), MPP 0.5."""
        svs = os.path.join(self.work, "slide.svs")
        if os.path.exists(svs):
            return svs
        description = f"Aperio Image Library v10.0.0\r\n{SLIDE_WIDTH}x{SLIDE_HEIGHT} [0,0 {SLIDE_WIDTH}x{SLIDE_HEIGHT}] " \
                      "(256x256) RGB|AppMag = 20|MPP = 0.5"
        with tifffile.TiffFile(self.slide) as source, tifffile.TiffWriter(svs) as writer:
            for i, page in enumerate(source.pages):
                writer.write(page.asarray(), photometric="rgb", compression="zlib", tile=(256, 256),
                             description=description if i == 0 else None, metadata=None)
        return svs

    def test_stitched_map_equals_one_dense_pass_for_two_tile_sizes(self):
        for tile in (256, 400):
            with self.subTest(tile=tile):
                out = os.path.join(self.work, f"exact-{tile}")
                self.run_slide(out, "--tile", str(tile), "--no-tissue-mask")
                summary, maps = self.stitched_maps(out)
                self.assertGreater(summary["tiles"]["total"], 4, "the slide should be cut into several tiles")
                self.assertEqual(maps.shape, self.reference.shape)
                self.assertLessEqual(float(np.abs(maps - self.reference).max()), SAME_VALUE)

    def test_an_openslide_slide_maps_like_its_tiff(self):
        """The same pixels as an Aperio SVS (a tiled TIFF whose description OpenSlide recognizes), read through
        libvips' openslideload: the same maps."""
        svs = self.make_svs()
        out = os.path.join(self.work, "openslide")
        result = self.run_slide(out, "--tile", "400", "--no-tissue-mask", slide=svs)
        self.assertIn("slide.svs", result.stdout)
        summary, maps = self.stitched_maps(out)
        self.assertLessEqual(float(np.abs(maps - self.reference).max()), SAME_VALUE)

    def test_a_downsample_between_levels_is_resampled_and_stays_exact(self):
        """--downsample 2.4 reads level 1 (2x) and shrinks it by 2/2.4 with libvips' Lanczos: the stitched maps equal
        one dense pass over the same shrink made by the vips command."""
        shrunk = os.path.join(self.work, "shrunk.tif")
        scale = 2.0 / 2.4
        subprocess.run([ARGS.vips_bin, "resize", self.slide + "[page=1]", shrunk, repr(scale)], check=True)
        reference = self.dense_maps(tifffile.imread(shrunk))
        out = os.path.join(self.work, "downsample")
        self.run_slide(out, "--downsample", "2.4", "--tile", "200", "--no-tissue-mask")
        summary, maps = self.stitched_maps(out)
        self.assertEqual(summary["level"], 1)
        self.assertAlmostEqual(summary["downsample"], SLIDE_WIDTH / summary["width"], places=6)
        self.assertGreater(summary["tiles"]["total"], 1)
        self.assertEqual(maps.shape, reference.shape)
        self.assertLessEqual(float(np.abs(maps - reference).max()), SAME_VALUE)

    def test_microns_per_pixel_choose_the_level_from_the_slides_metadata(self):
        """The SVS says MPP = 0.5: --mpp 1 is its level 1 as it is; a TIFF without a resolution refuses --mpp."""
        svs = self.make_svs()
        out = os.path.join(self.work, "mpp")
        self.run_slide(out, "--mpp", "1", "--no-tissue-mask", "--no-viewer", slide=svs)
        summary = read_json(os.path.join(out, "slide.json"))
        self.assertEqual(summary["level"], 1)
        self.assertAlmostEqual(summary["microns_per_pixel"], 1.0, places=2)
        bare = os.path.join(self.work, "bare.tif")
        tifffile.imwrite(bare, tifffile.imread(self.slide, key=0)[:300, :300], resolution=None, metadata=None)
        result = self.run_slide(os.path.join(self.work, "bare"), "--mpp", "1", slide=bare, check=False)
        self.assertEqual(result.returncode, 1)
        self.assertIn("microns per pixel", result.stderr)

    def test_slides_that_crash_openslide_are_refused_with_a_clear_error(self):
        """tests/fuzz/openslide-crashes/: corrupt SVS files on which OpenSlide 3.4.1 crashes, aborts or asks for
        gigabytes. fovea-slide reads each in a child first: exit status 1 and a message naming the file, never a
        crash."""
        for name in sorted(os.listdir(ARGS.openslide_crashes)):
            if not name.endswith(".svs"):
                continue
            with self.subTest(slide=name):
                path = os.path.join(ARGS.openslide_crashes, name)
                result = self.run_slide(os.path.join(self.work, "crash-" + name), "--no-viewer", slide=path,
                                        check=False)
                self.assertEqual(result.returncode, 1, result.stderr[-500:])
                self.assertIn(f"fovea slide: {path}:", result.stderr)

    def test_background_tiles_are_skipped_and_the_rest_stay_exact(self):
        out = os.path.join(self.work, "masked")
        self.run_slide(out, "--tile", "200")
        summary, maps = self.stitched_maps(out)
        self.assertGreater(summary["tiles"]["skipped_background"], 0, "half the slide is glass")
        self.assertLess(summary["tiles"]["skipped_background"], summary["tiles"]["total"])
        written = maps.sum(axis=0) > 0.5  # probabilities sum to 1 where a tile wrote; 0 where it was skipped
        self.assertGreater(written.mean(), 0.2)
        self.assertLess(written.mean(), 1.0)
        self.assertLessEqual(float(np.abs(maps - self.reference)[:, written].max()), SAME_VALUE)

    def test_geojson_is_a_feature_collection_of_classified_boxes(self):
        out = os.path.join(self.work, "geojson")
        self.run_slide(out, "--tile", "512")
        collection = read_json(os.path.join(out, "slide.geojson"))
        self.assertEqual(collection["type"], "FeatureCollection")
        self.assertGreater(len(collection["features"]), 0)
        labels = set(self.model.labels)
        for feature in collection["features"]:
            self.assertEqual(feature["type"], "Feature")
            self.assertEqual(feature["geometry"]["type"], "Polygon")
            ring = feature["geometry"]["coordinates"][0]
            self.assertEqual(len(ring), 5)
            self.assertEqual(ring[0], ring[-1])
            xs, ys = [p[0] for p in ring], [p[1] for p in ring]
            self.assertTrue(0 <= min(xs) < max(xs) <= SLIDE_WIDTH and 0 <= min(ys) < max(ys) <= SLIDE_HEIGHT)
            properties = feature["properties"]
            self.assertIn(properties["classification"]["name"], labels)
            self.assertEqual(properties["name"], properties["classification"]["name"])
            self.assertTrue(0.5 <= properties["score"] <= 1.0)

    def test_an_interrupted_run_resumes_without_recomputing_finished_tiles(self):
        out = os.path.join(self.work, "resumed")
        journal = os.path.join(out, "slide.tiles.jsonl")
        command = [ARGS.fovea_bin, "slide", "--server", self.server.address, "--out", out, "--tile", "96",
                   "--concurrency", "1", "--no-tissue-mask", self.slide]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + CLI_TIMEOUT_SECONDS
        while time.time() < deadline and process.poll() is None:
            if os.path.exists(journal) and line_count(journal) >= 5:
                break
            time.sleep(0.02)
        self.assertIsNone(process.poll(), "the run should still be going when it is killed")
        process.send_signal(signal.SIGKILL)
        process.wait()
        finished_before = line_count(journal)
        self.run_slide(out, "--tile", "96", "--concurrency", "1", "--no-tissue-mask")
        summary, maps = self.stitched_maps(out)
        self.assertGreaterEqual(summary["tiles"]["resumed"], finished_before - 1)  # the last line may be torn
        self.assertEqual(summary["tiles"]["resumed"] + summary["tiles"]["mapped_now"], summary["tiles"]["total"])
        self.assertLessEqual(float(np.abs(maps - self.reference).max()), SAME_VALUE)

    def test_the_viewer_page_shows_the_map_over_the_slide_offline(self):
        out = os.path.join(self.work, "viewer")
        self.run_slide(out, "--tile", "400")
        summary = read_json(os.path.join(out, "slide.json"))
        self.assertEqual(summary["viewer"], "slide.html")
        for needed in ("slide.html", "slide.dzi", "slide.overlay.dzi", "openseadragon/openseadragon.min.js"):
            self.assertTrue(os.path.exists(os.path.join(out, needed)), needed)
        result = subprocess.run([ARGS.node, ARGS.viewer_check, "--page", os.path.join(out, "slide.html"),
                                 "--screenshot", ARGS.viewer_screenshot], capture_output=True, text=True,
                                timeout=CLI_TIMEOUT_SECONDS)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_a_truncated_slide_is_a_clear_error(self):
        truncated = os.path.join(self.work, "truncated.tif")
        with open(self.slide, "rb") as source, open(truncated, "wb") as target:
            data = source.read()
            target.write(data[:len(data) * 6 // 10])
        result = subprocess.run([ARGS.fovea_bin, "slide", "--server", self.server.address, "--out",
                                 os.path.join(self.work, "truncated"), "--no-tissue-mask", truncated],
                                capture_output=True, text=True, timeout=CLI_TIMEOUT_SECONDS)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("truncated.tif", result.stderr)
        self.assertTrue("DATA_LOSS" in result.stderr or "INVALID_ARGUMENT" in result.stderr, result.stderr)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--fovea-bin", required=True)
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--proto-dir", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--make-slide", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--viewer-check", required=True)
    parser.add_argument("--viewer-screenshot", required=True)
    parser.add_argument("--vips-bin", default=shutil.which("vips") or "vips")
    parser.add_argument("--openslide-crashes", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
