#!/usr/bin/env node
// ONNX Runtime as a benchmark peer: the same measurement engine_bench makes of Fovea, on the same ONNX file, so that
// bench/compare/run.py and bench/zoo/run.py can put the two side by side. Needs bench/peers/install.sh first.
//
// usage: node bench/peers/ort_bench.js MODEL --shape N,C,H,W [--threads 2] [--seconds 3]
//          prints one JSON line: batch, images_per_s, p50_ms, p99_ms, runs (after kWarmupRuns untimed runs).
//        node bench/peers/ort_bench.js MODEL --shape N,C,H,W [--threads 2] --input-file IN.bin --output-file OUT.bin
//          runs once on IN.bin (raw float32, that shape) and writes the first output as raw float32 to OUT.bin;
//          prints one JSON line with the output's dims. The drivers use it to check ORT and Fovea agree first.
'use strict';

const fs = require('fs');
const path = require('path');

const kWarmupRuns = 3;       // as engine_bench: first runs pay for allocation and kernel selection
const kMinTimedRuns = 10;    // as engine_bench: a percentile needs a few samples even on a slow model
const kRandomSeed = 7;       // engine_bench's seed; the values differ (another generator), the timing does not care
const kDefaultSeconds = 3;
const kDefaultThreads = 2;

// The binding from bench/peers/node_modules, wherever the script is called from.
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

/** Flags after the model path as {name: value}; every flag takes one value. */
function ParseArgs(argv) {
  if (argv.length < 1 || argv[0].startsWith('--')) throw new Error('usage: ort_bench.js MODEL --shape N,C,H,W ...');
  const flags = {model: argv[0]};
  for (let i = 1; i + 1 < argv.length; i += 2) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument ${argv[i]}`);
    flags[argv[i].slice(2)] = argv[i + 1];
  }
  if (!flags.shape) throw new Error('--shape N,C,H,W is required');
  flags.shape = flags.shape.split(',').map(Number);
  flags.threads = Number(flags.threads || kDefaultThreads);
  flags.seconds = Number(flags.seconds || kDefaultSeconds);
  return flags;
}

/** Uniform [0, 1) floats from mulberry32, so every run of the benchmark feeds the same input. */
function RandomFloats(count, seed) {
  let state = seed >>> 0;
  const values = new Float32Array(count);
  for (let i = 0; i < count; ++i) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    values[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return values;
}

/** A raw float32 file as a Float32Array holding exactly `count` values. */
function ReadFloats(file, count) {
  const bytes = fs.readFileSync(file);
  if (bytes.length !== 4 * count) throw new Error(`${file}: ${bytes.length} bytes, expected ${4 * count}`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

function Percentile(sorted, q) {
  return sorted[Math.round(q * (sorted.length - 1))];
}

/** Runs and timings of `session` on `feeds` for at least `seconds` (and kMinTimedRuns runs). */
async function Measure(session, feeds, batch, seconds) {
  for (let i = 0; i < kWarmupRuns; ++i) await session.run(feeds);
  const latencies = [];
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
  while (elapsed() < seconds || latencies.length < kMinTimedRuns) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const total = elapsed();
  latencies.sort((a, b) => a - b);
  return {
    batch, images_per_s: batch * latencies.length / total, p50_ms: Percentile(latencies, 0.5),
    p99_ms: Percentile(latencies, 0.99), runs: latencies.length,
  };
}

async function Main() {
  const flags = ParseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(flags.model, {
    intraOpNumThreads: flags.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  const count = flags.shape.reduce((a, b) => a * b, 1);
  const values = flags['input-file'] ? ReadFloats(flags['input-file'], count) : RandomFloats(count, kRandomSeed);
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', values, flags.shape)};
  if (flags['input-file']) {
    if (!flags['output-file']) throw new Error('--input-file needs --output-file');
    const output = (await session.run(feeds))[session.outputNames[0]];
    fs.writeFileSync(flags['output-file'], Buffer.from(output.data.buffer, output.data.byteOffset, 4 * output.size));
    console.log(JSON.stringify({dims: output.dims}));
    return;
  }
  console.log(JSON.stringify(await Measure(session, feeds, flags.shape[0], flags.seconds)));
}

Main().catch((error) => {
  console.error(`ort_bench: ${error.message}`);
  process.exit(1);
});
