// Browser test of the demo page: Debian's chromium, driven by playwright-core, loads the page from the real
// fovea-server (bundled Fashion-MNIST model, 127.0.0.1 only), picks one Fashion-MNIST test image and drops another,
// and checks the top-1 label and the localization overlay each time, then switches the method. Saves a screenshot.
//
// Usage: node demo_page_test.mjs --server-bin BIN --models DIR --dataset DIR --screenshot PNG
// Exit status 0 when every check passed; otherwise 1 with the failed check and the server's log on stderr.

import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync, gunzipSync } from "node:zlib";

import { check, requiredArgs, withChromium } from "./headless.mjs";

const STARTUP_MS = 60_000;
const STEP_TIMEOUT_MS = 60_000;
const IMAGE_SIDE = 28;
// Fashion-MNIST test images the bundled model classifies confidently (models/fashion-mnist/*/MODEL.md).
const PICKED = { index: 0, label: "Ankle boot" };
const DROPPED = { index: 1, label: "Pullover" };

const args = requiredArgs({
  "server-bin": { type: "string" },
  models: { type: "string" },
  dataset: { type: "string", default: "/usr/share/datasets/fashion-mnist" },
  screenshot: { type: "string" },
}, ["server-bin", "models", "screenshot"]);

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// CRC-32 (IEEE, as PNG chunks use it); zlib.crc32 is missing from Debian 12's Node 18.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// A grayscale 8-bit PNG of `pixels` (rows of `width` bytes), written with zlib only.
function encodePng(pixels, width, height) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;  // bit depth
  header[9] = 0;  // grayscale
  const rows = [];
  for (let y = 0; y < height; ++y) rows.push(Buffer.from([0]), pixels.subarray(y * width, (y + 1) * width));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header),
                        chunk("IDAT", deflateSync(Buffer.concat(rows))), chunk("IEND", Buffer.alloc(0))]);
}

// The version the server's default policy (latest:1) serves: the highest numbered folder of the bundled model.
function servedVersion() {
  const versions = readdirSync(join(args.models, "fashion-mnist")).filter((name) => /^\d+$/.test(name));
  return String(Math.max(...versions.map(Number)));
}

// Test image `index` of the IDX file (magic, count, rows, columns, then the pixels).
function fashionMnistPng(index) {
  const idx = gunzipSync(readFileSync(join(args.dataset, "t10k-images-idx3-ubyte.gz")));
  const offset = 16 + index * IMAGE_SIDE * IMAGE_SIDE;
  return encodePng(idx.subarray(offset, offset + IMAGE_SIDE * IMAGE_SIDE), IMAGE_SIDE, IMAGE_SIDE);
}

async function startServer() {
  const httpPort = await freePort();
  const log = [];
  const server = spawn(args["server-bin"], [
    "--address", `127.0.0.1:${await freePort()}`, "--metrics-port", "0", "--http-port", String(httpPort),
    "--model-repository", args.models, "--threads", "2"], { stdio: ["ignore", "ignore", "pipe"] });
  server.stderr.on("data", (data) => log.push(data));
  const base = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + STARTUP_MS;
  while (Date.now() < deadline && server.exitCode === null) {
    try {
      if ((await fetch(`${base}/v2/health/ready`)).ok) return { server, base, log };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  server.kill("SIGTERM");
  throw new Error(`fovea-server did not become ready:\n${Buffer.concat(log)}`);
}

async function stopServer(server) {
  if (server.exitCode !== null) return server.exitCode;
  const exited = new Promise((resolve) => server.once("exit", (code) => resolve(code)));
  server.kill("SIGTERM");
  return exited;
}

// Waits for the page to show `expected` as the top-1 label and a fresh overlay for it.
async function expectResult(page, expected) {
  await page.waitForFunction((label) => {
    const first = document.querySelector("#predictions tr td.label");
    const overlay = document.querySelector("#overlay");
    return first && first.textContent === label && overlay.complete && overlay.naturalWidth > 0 &&
           overlay.src.startsWith("data:image/png;base64,") &&
           document.querySelector("#overlay-caption").textContent.includes(label);
  }, expected, { timeout: STEP_TIMEOUT_MS });
  const result = await page.evaluate(() => ({
    labels: [...document.querySelectorAll("#predictions td.label")].map((cell) => cell.textContent),
    overlay: [document.querySelector("#overlay").naturalWidth, document.querySelector("#overlay").naturalHeight],
    error: document.querySelector("#error").textContent,
  }));
  check(result.error === "", `no error shown (shows "${result.error}")`);
  check(result.labels.length === 5, `top-5 rows (got ${result.labels.length})`);
  check(result.overlay[0] === IMAGE_SIDE && result.overlay[1] === IMAGE_SIDE,
        `overlay is ${IMAGE_SIDE}x${IMAGE_SIDE} like the image (got ${result.overlay})`);
  console.log(`ok: top-1 "${expected}", top-5 ${JSON.stringify(result.labels)}, overlay ${result.overlay.join("x")}`);
}

async function dropImage(page, png, name) {
  await page.evaluate(({ base64, fileName }) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], fileName, { type: "image/png" }));
    document.querySelector("#drop").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true,
                                                                          cancelable: true }));
  }, { base64: png.toString("base64"), fileName: name });
}

async function run() {
  const workdir = mkdtempSync(join(tmpdir(), "fovea-browser-"));
  const picked = join(workdir, `fashion-mnist-${PICKED.index}.png`);
  writeFileSync(picked, fashionMnistPng(PICKED.index));
  const { server, base, log } = await startServer();
  try {
    await withChromium({ width: 1000, height: 600 }, [], async (page) => {
      const foreign = [];
      page.on("request", (request) => {
        const url = request.url();
        if (!url.startsWith(base) && !url.startsWith("data:") && !url.startsWith("blob:")) foreign.push(url);
      });
      const pageErrors = [];
      page.on("pageerror", (error) => pageErrors.push(String(error)));

      await page.goto(`${base}/`);
      await page.waitForFunction(() => document.querySelector("#model").options.length > 0,
                                 null, { timeout: STEP_TIMEOUT_MS });
      check(await page.inputValue("#model") === `fashion-mnist\n${servedVersion()}`, "the bundled model is selected");

      await page.setInputFiles("#file", picked);  // "pick an image"
      await expectResult(page, PICKED.label);
      check((await page.textContent("#overlay-caption")).startsWith("cam map"), "auto means CAM for this model");
      await page.screenshot({ path: args.screenshot });
      console.log(`ok: screenshot ${args.screenshot}`);

      await dropImage(page, fashionMnistPng(DROPPED.index), `fashion-mnist-${DROPPED.index}.png`);  // "drop"
      await expectResult(page, DROPPED.label);

      for (const method of ["grad-cam", "dense"]) {
        await page.selectOption("#method", method);
        await page.waitForFunction((name) => document.querySelector("#overlay-caption").textContent.startsWith(name),
                                   method, { timeout: STEP_TIMEOUT_MS });
        await expectResult(page, DROPPED.label);
        console.log(`ok: method ${method}`);
      }
      check(pageErrors.length === 0, `no script errors (${pageErrors.join("; ")})`);
      check(foreign.length === 0, `the page requested only the server (also ${foreign.join(", ")})`);
    });
  } catch (error) {
    console.error(`server log:\n${Buffer.concat(log)}`);
    throw error;
  } finally {
    const exitCode = await stopServer(server);
    rmSync(workdir, { recursive: true, force: true });
    check(exitCode === 0, `fovea-server exits 0 on SIGTERM (got ${exitCode})`);
  }
}

try {
  await run();
  console.log("PASS demo page");
} catch (error) {
  console.error(`FAIL ${error.stack ?? error}`);
  process.exit(1);
}
