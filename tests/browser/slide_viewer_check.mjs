// Browser check of `fovea slide`'s viewer page: Debian's chromium, driven by playwright-core, opens the page from
// file:// with every network request refused, and waits until OpenSeadragon has drawn both the slide and the map
// over it; then moves the opacity slider and checks the map follows. Saves a screenshot. Run by
// tests/slide/slide_cli_test.py on a page it made with the real CLI and server.
//
// Usage: node slide_viewer_check.mjs --page HTML --screenshot PNG
// Exit status 0 when every check passed; otherwise 1 with the failed check.

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

import { check, requiredArgs, withChromium } from "./headless.mjs";

const STEP_TIMEOUT_MS = 60_000;
const args = requiredArgs({ page: { type: "string" }, screenshot: { type: "string" } }, ["page", "screenshot"]);

async function run() {
  await withChromium({ width: 900, height: 700 }, ["--allow-file-access-from-files"], async (page) => {
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
  });
}

try {
  await run();
  console.log("PASS slide viewer");
} catch (error) {
  console.error(`FAIL ${error.stack ?? error}`);
  process.exit(1);
}
