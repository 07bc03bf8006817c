// tfport's TF.js runner: loads graph models and runs them for the Python side.
//
// Protocol on stdin/stdout, one frame per message: uint32 LE header length, the JSON header,
// then the tensors' bytes in header order. A tensor is {name, dtype, shape, bytes}; string
// tensors hold, per element, a uint32 LE length and the UTF-8 bytes. Binary, not JSON numbers,
// so large golden sets cross the process boundary at memory speed.
//   -> {op: "load", model: "<signature>", path: "/abs/dir/model.json"}   <- {ok: true, backend}
//   -> {op: "run", model, inputs: [tensor...], outputs: [keys]}   <- {ok: true, outputs}
//   -> {op: "run", model, inputs, nodes: [graph node names]}       <- {ok: true, outputs} (for tfport explain)
//   -> {op: "time", model, inputs, outputs, warmup, runs}   <- {ok: true, milliseconds: [per run]}
// Tensors and outputs are named by the SavedModel's signature keys, as in model.json's signature.
// Errors answer {ok: false, error: "..."}; the process keeps serving.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfconv from "@tensorflow/tfjs-converter";

// stdout carries frames only: TF.js's notices (console.log/warn) go to stderr, i.e. tfport's log.
for (const level of ["log", "info", "warn", "debug"]) console[level] = (...args) => console.error(...args);

const backend = process.argv[2] || "cpu";
// An unusable backend answers every request with the reason instead of silently using another.
const ready = (async () => {
  if (backend === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    const here = path.dirname(fileURLToPath(import.meta.url));
    wasm.setWasmPaths(path.join(here, "node_modules/@tensorflow/tfjs-backend-wasm/dist/"));
  }
  if (!(await tf.setBackend(backend))) throw new Error(`the TF.js ${backend} backend failed to initialize`);
  await tf.ready();
})();
ready.catch(() => {}); // handled where requests await it; an early failure must not end the process

const models = new Map(); // signature -> {model, async}

async function loadModel(file) {
  const directory = path.dirname(file);
  const json = JSON.parse(await readFile(file, "utf8"));
  const specs = [];
  const buffers = [];
  for (const group of json.weightsManifest || []) {
    for (const shard of group.paths) {
      const resolved = path.resolve(directory, shard);
      if (!resolved.startsWith(directory + path.sep)) throw new Error(`weight path ${shard} leaves ${directory}`);
      buffers.push(await readFile(resolved));
    }
    specs.push(...group.weights);
  }
  const weightData = new Uint8Array(Buffer.concat(buffers)).buffer;
  const model = await tfconv.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs: specs, weightData,
    format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy,
    signature: json.signature, userDefinedMetadata: json.userDefinedMetadata,
    modelInitializer: json.modelInitializer, initializerSignature: json.initializerSignature,
  }));
  return { model, signature: json.signature, async: false };
}

function decode(spec, bytes) {
  if (spec.dtype === "string") {
    const values = [];
    let offset = 0;
    while (offset < bytes.length) {
      const length = bytes.readUInt32LE(offset);
      values.push(new Uint8Array(bytes.subarray(offset + 4, offset + 4 + length)));
      offset += 4 + length;
    }
    return tf.tensor(values, spec.shape, "string");
  }
  const copy = new Uint8Array(bytes).buffer; // aligned copy
  if (spec.dtype === "complex64") return complexTensor(new Float32Array(copy), spec.shape);
  const Typed = { float32: Float32Array, int32: Int32Array, bool: Uint8Array }[spec.dtype];
  return tf.tensor(new Typed(copy), spec.shape, spec.dtype);
}

// complex64 travels interleaved (real, imaginary), as numpy stores it and TF.js reads it back.
function complexTensor(interleaved, shape) {
  const real = interleaved.filter((_, i) => i % 2 === 0);
  const imaginary = interleaved.filter((_, i) => i % 2 === 1);
  return tf.complex(tf.tensor(real, shape), tf.tensor(imaginary, shape));
}

async function encode(name, tensor) {
  const spec = { name, dtype: tensor.dtype, shape: tensor.shape };
  if (tensor.dtype === "string") {
    const parts = [];
    for (const value of tensor.dataSync()) {
      const bytes = Buffer.from(value);
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      parts.push(length, bytes);
    }
    return [spec, Buffer.concat(parts)];
  }
  const data = await tensor.data();
  return [spec, Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
}

function feedOf(entry, request, payload) {
  const feed = {};
  let offset = 0;
  for (const spec of request.inputs) {
    const input = entry.signature.inputs[spec.name]; // absent: the graph does not use this input
    if (input) feed[input.name] = decode(spec, payload.subarray(offset, offset + spec.bytes));
    offset += spec.bytes;
  }
  return feed;
}

async function execute(entry, feed, outputs) {
  let results;
  if (!entry.async) {
    try {
      results = entry.model.execute(feed, outputs);
    } catch (error) {
      if (!/executeAsync/.test(String(error))) throw error;
      entry.async = true; // control flow or dynamic shapes: remember for the next samples
    }
  }
  if (entry.async) results = await entry.model.executeAsync(feed, outputs);
  return Array.isArray(results) ? results : [results];
}

async function run(request, payload) {
  const entry = models.get(request.model);
  const feed = feedOf(entry, request, payload);
  const labels = request.nodes || request.outputs; // graph nodes by name, or signature outputs by key
  const results = await execute(entry, feed, request.nodes || request.outputs.map((key) => entry.signature.outputs[key].name));
  const encoded = await Promise.all(results.map((t, i) => encode(labels[i], t)));
  tf.dispose([...Object.values(feed), ...results]);
  return [{ ok: true, outputs: encoded.map(([spec, bytes]) => ({ ...spec, bytes: bytes.length })) },
          Buffer.concat(encoded.map(([, bytes]) => bytes))];
}

// Benchmarks time inside the runtime, so the pipe to Python is not counted: each run ends when
// every output's data is ready.
async function time(request, payload) {
  const entry = models.get(request.model);
  const feed = feedOf(entry, request, payload);
  const outputs = request.outputs.map((key) => entry.signature.outputs[key].name);
  const milliseconds = [];
  for (let i = 0; i < request.warmup + request.runs; i++) {
    const started = performance.now();
    const results = await execute(entry, feed, outputs);
    await Promise.all(results.map((t) => t.data()));
    if (i >= request.warmup) milliseconds.push(performance.now() - started);
    tf.dispose(results);
  }
  tf.dispose(Object.values(feed));
  return [{ ok: true, milliseconds }, Buffer.alloc(0)];
}

async function handle(request, payload) {
  await ready;
  if (request.op === "load") {
    models.set(request.model, await loadModel(request.path));
    return [{ ok: true, backend: tf.getBackend() }, Buffer.alloc(0)];
  }
  if (request.op === "run") return run(request, payload);
  if (request.op === "time") return time(request, payload);
  throw new Error(`unknown op ${request.op}`);
}

function send(header, payload) {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  process.stdout.write(Buffer.concat([length, json, payload]));
}

let pending = Buffer.alloc(0);
let queue = Promise.resolve();
process.stdin.on("data", (chunk) => {
  pending = Buffer.concat([pending, chunk]);
  for (;;) {
    if (pending.length < 4) return;
    const headerLength = pending.readUInt32LE(0);
    if (pending.length < 4 + headerLength) return;
    const request = JSON.parse(pending.subarray(4, 4 + headerLength).toString("utf8"));
    const payloadLength = (request.inputs || []).reduce((sum, spec) => sum + spec.bytes, 0);
    if (pending.length < 4 + headerLength + payloadLength) return;
    const payload = pending.subarray(4 + headerLength, 4 + headerLength + payloadLength);
    pending = pending.subarray(4 + headerLength + payloadLength);
    queue = queue.then(() => handle(request, payload))
      .then(([header, body]) => send(header, body))
      .catch((error) => send({ ok: false, error: String(error && error.message || error) }, Buffer.alloc(0)));
  }
});
process.stdin.on("end", () => queue.then(() => process.exit(0)));
