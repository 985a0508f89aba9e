// What the browser tests share: Debian's chromium under playwright-core, headless and kept off the network, and
// their argument and check helpers.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const CHROMIUM = "/usr/bin/chromium";
// Chromium must not reach anything but what the test serves it.
const CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// The command line's values for `options` (parseArgs' form); throws naming the first of `required` missing.
export function requiredArgs(options, required) {
  const { values } = parseArgs({ options });
  for (const name of required) {
    if (!values[name]) throw new Error(`--${name} is required`);
  }
  return values;
}

export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

// Runs `body(page, context)` in a fresh headless Chromium profile of `viewport` size, with `extraFlags`; closes it
// and removes the profile whatever happens. Exits 1 naming the fix when playwright-core is not installed.
export async function withChromium(viewport, extraFlags, body) {
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (error) {
    console.error("playwright-core is not installed: run scripts/install-deps.sh (npm ci in tests/browser)");
    process.exit(1);
  }
  const workdir = mkdtempSync(join(tmpdir(), "fovea-browser-"));
  let context;
  try {
    context = await chromium.launchPersistentContext(join(workdir, "profile"), {
      executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_FLAGS, ...extraFlags], viewport,
    });
    const page = context.pages()[0] ?? await context.newPage();
    return await body(page, context);
  } finally {
    if (context) await context.close();
    rmSync(workdir, { recursive: true, force: true });
  }
}
