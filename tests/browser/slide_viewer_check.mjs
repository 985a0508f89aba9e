// Browser check of `fovea slide`'s viewer page: Debian's chromium, driven by playwright-core, opens the page from
// file:// with every network request refused, and waits until OpenSeadragon has drawn both the slide and the map
// over it; then moves the opacity slider and checks the map follows. Saves a screenshot. Run by
// tests/slide/slide_cli_test.py on a page it made with the real CLI and server.
//
// Usage: node slide_viewer_check.mjs --page HTML --screenshot PNG
// Exit status 0 when every check passed; otherwise 1 with the failed check.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const STEP_TIMEOUT_MS = 60_000;
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--allow-file-access-from-files"];

const { values: args } = parseArgs({ options: { page: { type: "string" }, screenshot: { type: "string" } } });
for (const required of ["page", "screenshot"]) {
  if (!args[required]) throw new Error(`--${required} is required`);
}

let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (error) {
  console.error("playwright-core is not installed: run scripts/install-deps.sh (npm ci in tests/browser)");
  process.exit(1);
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

async function run() {
  const workdir = mkdtempSync(join(tmpdir(), "fovea-slide-viewer-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(join(workdir, "profile"), {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 900, height: 700 },
    });
    const page = context.pages()[0] ?? await context.newPage();
    const network = [];
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file:") || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
      network.push(url);
      return route.abort();
    });
    const pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));

    await page.goto(pathToFileURL(resolve(args.page)).href);
    // Both tiled images in the world and fully drawn: the slide's DeepZoom pyramid and the map's.
    await page.waitForFunction(() => window.foveaOverlay && viewer.world.getItemCount() === 2 &&
                                 viewer.world.getItemAt(0).getFullyLoaded() && window.foveaOverlay.getFullyLoaded(),
                               null, { timeout: STEP_TIMEOUT_MS });
    const bounds = await page.evaluate(() => {
      const slide = viewer.world.getItemAt(0).getBounds(), map = window.foveaOverlay.getBounds();
      return { slide: [slide.x, slide.y, slide.width, slide.height], map: [map.x, map.y, map.width, map.height] };
    });
    // The map lies over the slide: it starts half a window in and ends inside it.
    check(bounds.map[0] > 0 && bounds.map[1] > 0, `the map starts inside the slide (${bounds.map})`);
    check(bounds.map[0] + bounds.map[2] < bounds.slide[2], `the map ends inside the slide (${bounds.map})`);
    check(Math.abs(await page.evaluate(() => window.foveaOverlay.getOpacity()) - 0.6) < 1e-6, "opacity starts at 0.6");
    await page.locator("#opacity").fill("0.25");
    check(Math.abs(await page.evaluate(() => window.foveaOverlay.getOpacity()) - 0.25) < 1e-6,
          "the slider sets the map's opacity");
    await page.locator("#opacity").fill("0.6");
    await page.waitForTimeout(500);  // one redraw at the restored opacity
    await page.screenshot({ path: args.screenshot });
    check(pageErrors.length === 0, `no script errors (${pageErrors.join("; ")})`);
    check(network.length === 0, `no network requests (${network.join(", ")})`);
    console.log(`ok: viewer ${args.page}, screenshot ${args.screenshot}`);
  } finally {
    if (context) await context.close();
    rmSync(workdir, { recursive: true, force: true });
  }
}

try {
  await run();
  console.log("PASS slide viewer");
} catch (error) {
  console.error(`FAIL ${error.stack ?? error}`);
  process.exit(1);
}
