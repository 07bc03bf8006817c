"""The browser bundle: graph models plus an ES module, its typings, a README and a self-test page.

A web app consumes the directory as it is: `import {load, predict} from "./<bundle>/index.js"`,
with inputs and outputs named as in the SavedModel. `parity.html` is what `tfport parity
--runtime chromium` drives in a real browser.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tfport import __version__
from tfport.converters.bundle_pages import copy_driver, predict_overload, type_names
from tfport.converters.tfjs_format import TFJS_DTYPES
from tfport.savedmodel.reader import SavedModelInfo, TensorSpec

TEMPLATE = Path(__file__).with_name("tfjs_bundle_template")
TS_DATA = {"float32": "Float32Array | number[]", "int32": "Int32Array | number[]",
           "bool": "Uint8Array | boolean[]", "string": "string[] | Uint8Array[]",
           "complex64": "Float32Array /* interleaved real, imaginary */"}


def write_bundle(artifact: Path, model: SavedModelInfo, directories: dict[str, str]) -> str:
    """Write index.js, index.d.ts, README.md and parity.html beside the per-signature models
    (`directories`: signature key -> the directory of its model.json, aliases included)."""
    table = {
        key: {"path": directories[key],
              "inputs": {n: _spec(s) for n, s in signature.inputs.items()},
              "outputs": {n: _spec(s) for n, s in signature.outputs.items()}}
        for key, signature in model.signatures.items()
    }
    default = "serving_default" if "serving_default" in table else next(iter(table))
    index = (TEMPLATE / "index.js").read_text()
    values = {"__MODEL__": model.name, "__VERSION__": __version__,
              "__SIGNATURES__": json.dumps(table, indent=2), "__DEFAULT__": json.dumps(default)}
    for placeholder, value in values.items():
        index = index.replace(placeholder, value)
    (artifact / "index.js").write_text(index)
    (artifact / "index.d.ts").write_text(_typings(model.name, table, default))
    (artifact / "README.md").write_text(_readme(model.name, artifact.name, table, default))
    for name in ("parity.html", "tfjs-global.js"):
        shutil.copy2(TEMPLATE / name, artifact / name)
    copy_driver(artifact)
    return "browser bundle: index.js (load, predict), index.d.ts, README.md, parity.html"


def _spec(spec: TensorSpec) -> dict:
    shape = [-1 if d is None else d for d in spec.shape] if spec.shape is not None else None
    return {"dtype": spec.dtype, "tfjsDtype": TFJS_DTYPES.get(spec.dtype, "float32"), "shape": shape}


def _describe(tensor: dict) -> str:
    """ "float32, shape [-1, 4]"; the TF.js dtype too when it differs (int64 -> int32)."""
    dtype = tensor["dtype"] if tensor["dtype"] == tensor["tfjsDtype"] else \
        f"{tensor['dtype']} in the SavedModel, {tensor['tfjsDtype']} in TF.js"
    shape = "unknown shape" if tensor["shape"] is None else f"shape {json.dumps(tensor['shape'])}"
    return f"{dtype}, {shape}"


def _typings(name: str, table: dict, default: str) -> str:
    lines = [
        f"// Types of the tfport bundle of {name}: one entry point per SavedModel signature.",
        'import type { Tensor } from "@tensorflow/tfjs";',
        "",
        "/** A tf.Tensor, or data with its shape; -1 in a documented shape means any size. */",
        "export type Input<D> = Tensor | { data: D; shape: number[] };",
        "export interface TensorSpec { dtype: string; tfjsDtype: string; shape: number[] | null }",
        "export interface SignatureSpec { path: string; inputs: Record<string, TensorSpec>; "
        "outputs: Record<string, TensorSpec> }",
        f"export type SignatureKey = {' | '.join(json.dumps(k) for k in table)};",
        "export declare const signatures: Record<SignatureKey, SignatureSpec>;",
        "export declare const defaultSignature: SignatureKey;",
        "export declare function load(signature?: SignatureKey, baseUrl?: string | URL): Promise<void>;",
    ]
    names = type_names(table)
    for key, spec in table.items():
        type_name = names[key]
        lines += ["", f"/** Inputs of signature {json.dumps(key)}. */", f"export interface {type_name}Inputs {{"]
        for input_name, tensor in spec["inputs"].items():
            lines += [f"  /** {_describe(tensor)} */",
                      f"  {json.dumps(input_name)}: Input<{TS_DATA[tensor['tfjsDtype']]}>;"]
        lines += ["}", f"/** Outputs of signature {json.dumps(key)} (dispose them when done). */",
                  f"export interface {type_name}Outputs {{"]
        for output_name, tensor in spec["outputs"].items():
            lines += [f"  /** {_describe(tensor)} */", f"  {json.dumps(output_name)}: Tensor;"]
        lines += ["}", predict_overload(type_name, key, key == default)]
    return "\n".join(lines) + "\n"


def _readme(name: str, directory: str, table: dict, default: str) -> str:
    spec = table[default]
    example = ", ".join(f"{n if n.isidentifier() else json.dumps(n)}: {_example(s)}"
                        for n, s in spec["inputs"].items())
    return f"""# {name} for TF.js

Written by tfport {__version__}: one TF.js graph model per SavedModel signature, and an ES module
whose inputs and outputs carry the SavedModel's own names. Needs `@tensorflow/tfjs` 4.x in the app.

```js
import {{ load, predict }} from "./{directory}/index.js";

await load();  // every signature; or load("{default}")
const outputs = await predict({{ {example} }});  // signature "{default}"
// outputs: {", ".join(spec["outputs"])} — tf.Tensors; dispose them when done
```

Signatures: {", ".join(table)}. Each input's dtype and shape is in `index.d.ts` (int64 travels as
int32 in TF.js). Serve this directory as it is. `parity.html` is a self-test page: it runs every
signature once and expects the TF.js builds under `tfjs/` (`tfport parity {directory} --golden DIR
--runtime chromium` serves them and checks the outputs against the SavedModel's).
"""


def _example(spec: dict) -> str:
    shape = [1 if d == -1 else d for d in spec["shape"] or [1]]
    size = 1
    for d in shape:
        size *= d
    data = {"float32": f"new Float32Array({size})", "int32": f"new Int32Array({size})",
            "bool": f"new Uint8Array({size})", "complex64": f"new Float32Array({2 * size})", "string": json.dumps(["text"] * size) if size <= 4 else "texts"}
    return f"{{ data: {data[spec['tfjsDtype']]}, shape: {json.dumps(shape)} }}"
