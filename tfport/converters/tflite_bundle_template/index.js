// LiteRT.js bundle of __MODEL__, written by tfport __VERSION__: the .tflite file and a predict()
// that takes and returns the SavedModel's own input and output names, on @litertjs/core 2.x.
// Import it from a web app that has @litertjs/core; in a page without a bundler, map that name
// (and @litertjs/wasm-utils) with an import map, as parity.html does.
import { loadAndCompile, loadLiteRt, Tensor } from "@litertjs/core";

/** Signature key -> inputs and outputs as the .tflite file declares them (dtype, shape; -1 is any size). */
export const signatures = __SIGNATURES__;
export const defaultSignature = __DEFAULT__;
export const modelFile = __MODEL_FILE__;

const TYPED = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array };
let compiled;

/**
 * Load LiteRT.js's wasm runtime (from `wasmUrl`, the files of @litertjs/core/wasm/) and compile
 * the model on `accelerator` ("wasm", or "webgpu" where the browser has an adapter). Later calls
 * reuse the compiled model; one page runs one accelerator.
 */
export async function load({ accelerator = "wasm", wasmUrl = new URL("litert/wasm/", import.meta.url),
                             modelUrl = new URL(modelFile, import.meta.url) } = {}) {
  if (!compiled) {
    compiled = (async () => {
      await loadLiteRt(String(wasmUrl));
      return loadAndCompile(String(modelUrl), { accelerator });
    })();
    compiled.catch(() => { compiled = undefined; });
  }
  return compiled;
}

/**
 * Run a signature. Each input is a typed array of the declared dtype with its shape,
 * `{data, shape}`; each output comes back as `{data, shape, dtype, accelerator}` (copied out of
 * LiteRT.js's memory: nothing to delete; `accelerator`: where LiteRT.js computed it).
 */
export async function predict(inputs, signature = defaultSignature) {
  const model = await load();
  const spec = signatures[signature];
  if (!spec) throw new Error(`no signature ${signature} (this bundle has ${Object.keys(signatures)})`);
  const runner = model.signatures[spec.signature] ?? model;
  const feed = {};
  try {
    for (const [name, input] of Object.entries(spec.inputs)) {
      if (!(name in inputs)) throw new Error(`missing input ${name} of signature ${signature}`);
      const Typed = TYPED[input.dtype];
      if (!Typed) throw new Error(`input ${name} is ${input.dtype}; LiteRT.js takes float32, int32 and uint8 tensors`);
      const { data, shape } = inputs[name];
      feed[name] = new Tensor(data instanceof Typed ? data : Typed.from(data), shape);
    }
    const results = await runner.run(feed);
    const outputs = {};
    for (const [name, tensor] of Object.entries(results)) {
      const computedOn = tensor.accelerator;
      const host = computedOn === "wasm" ? tensor : await tensor.moveTo("wasm");
      outputs[name] = { data: host.toTypedArray().slice(), shape: Array.from(host.type.layout.dimensions),
                        dtype: host.type.dtype, accelerator: computedOn };
      host.delete();
    }
    return outputs;
  } finally {
    for (const tensor of Object.values(feed)) tensor.delete();
  }
}
