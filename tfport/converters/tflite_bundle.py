"""The LiteRT.js browser bundle: beside the .tflite, an ES module, its typings, a README and a self-test page.

A web app consumes the directory as it is: `import {load, predict} from "./<dir>/index.js"` on
@litertjs/core, inputs and outputs named as in the SavedModel. `parity.html` is what `tfport
parity MODEL.tflite --runtime chromium` drives in a real browser; for a .tflite without a bundle
tfport writes one for the run (tfport.targets.tflite_browser), so the module a web app would ship
is the one proven.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from tfport import __version__
from tfport.converters.bundle_pages import DRIVER, PAGE_ERRORS, copy_driver, predict_overload, type_names

TEMPLATE = Path(__file__).with_name("tflite_bundle_template")
FILES = ("index.js", "index.d.ts", "README.md", "parity.html", DRIVER.name, PAGE_ERRORS.name)
TS_DATA = {"float32": "Float32Array", "int32": "Int32Array", "uint8": "Uint8Array"}  # what LiteRT.js 2.x takes


def write_bundle(directory: Path, model_file: str, title: str, io: Mapping[str, dict],
                 aliases: Mapping[str, str] | None = None) -> str:
    """Write the bundle files into `directory`, beside `model_file`. `io`: each signature's tensors as
    the .tflite declares them (tfport.converters.tflite_io); `aliases`: signatures the file holds
    under another key (the same function)."""
    aliases = dict(aliases or {})
    table = {key: _table_entry(key, io[key]) for key in io}
    table.update({alias: _table_entry(kept, io[kept]) for alias, kept in aliases.items() if kept in io})
    default = "serving_default" if "serving_default" in table else next(iter(table))
    index = (TEMPLATE / "index.js").read_text()
    for placeholder, value in {"__MODEL__": title, "__VERSION__": __version__, "__MODEL_FILE__": json.dumps(model_file),
                               "__SIGNATURES__": json.dumps(table, indent=2), "__DEFAULT__": json.dumps(default)}.items():
        index = index.replace(placeholder, value)
    (directory / "index.js").write_text(index)
    (directory / "index.d.ts").write_text(_typings(title, table, default))
    (directory / "README.md").write_text(_readme(title, directory.name, model_file, table, default))
    shutil.copy2(TEMPLATE / "parity.html", directory / "parity.html")
    copy_driver(directory)
    return "LiteRT.js browser bundle: index.js (load, predict), index.d.ts, README.md, parity.html"


def _table_entry(kept: str, io: dict) -> dict:
    """`signature`: the key LiteRT.js runs (the kept one, for an alias)."""
    return {"signature": kept, **{side: {name: {"dtype": spec["dtype"], "shape": [-1 if d is None else d
                                                                                  for d in spec["shape"]]}
                                         for name, spec in io[side].items()} for side in ("inputs", "outputs")}}


def _typings(title: str, table: dict, default: str) -> str:
    lines = [
        f"// Types of the tfport LiteRT.js bundle of {title}: one entry point per SavedModel signature.",
        "",
        "export interface TensorSpec { dtype: string; shape: number[] }",
        "export interface SignatureSpec { signature: string; inputs: Record<string, TensorSpec>; "
        "outputs: Record<string, TensorSpec> }",
        "/** An output, copied out of LiteRT.js's memory. */",
        "export interface Output { data: Float32Array | Int32Array | Uint8Array; shape: number[]; dtype: string; "
        "accelerator: string }",
        f"export type SignatureKey = {' | '.join(json.dumps(k) for k in table)};",
        "export declare const signatures: Record<SignatureKey, SignatureSpec>;",
        "export declare const defaultSignature: SignatureKey;",
        "export declare const modelFile: string;",
        "export interface LoadOptions { accelerator?: \"wasm\" | \"webgpu\"; wasmUrl?: string | URL; "
        "modelUrl?: string | URL }",
        "export declare function load(options?: LoadOptions): Promise<unknown>;",
    ]
    names = type_names(table)
    for key, spec in table.items():
        type_name = names[key]
        lines += ["", f"/** Inputs of signature {json.dumps(key)}: typed arrays with their shapes. */",
                  f"export interface {type_name}Inputs {{"]
        for name, tensor in spec["inputs"].items():
            data = TS_DATA.get(tensor["dtype"], f"never /* {tensor['dtype']}: LiteRT.js has no such tensors */")
            lines += [f"  /** {tensor['dtype']}, shape {json.dumps(tensor['shape'])} */",
                      f"  {json.dumps(name)}: {{ data: {data}; shape: number[] }};"]
        lines += ["}", f"export interface {type_name}Outputs {{"]
        for name, tensor in spec["outputs"].items():
            lines += [f"  /** {tensor['dtype']}, shape {json.dumps(tensor['shape'])} */", f"  {json.dumps(name)}: Output;"]
        lines += ["}", predict_overload(type_name, key, key == default)]
    return "\n".join(lines) + "\n"


def _readme(title: str, directory: str, model_file: str, table: dict, default: str) -> str:
    spec = table[default]
    example = ", ".join(f"{n if n.isidentifier() else json.dumps(n)}: {_example(s)}" for n, s in spec["inputs"].items())
    return f"""# {title} for LiteRT.js

Written by tfport {__version__}: `{model_file}` (the same file as for Android and iOS) and an ES
module on `@litertjs/core` 2.x whose inputs and outputs carry the SavedModel's own names.

```js
import {{ load, predict }} from "./{directory}/index.js";

await load({{ wasmUrl: "/node_modules/@litertjs/core/wasm/" }});  // accelerator: "wasm" (default) or "webgpu"
const outputs = await predict({{ {example} }});  // signature "{default}"
// outputs: {", ".join(spec["outputs"])} — each {{data, shape, dtype}}
```

Signatures: {", ".join(table)}; dtypes and shapes are in `index.d.ts`. LiteRT.js takes float32,
int32 and uint8 tensors only. Serve this directory with LiteRT.js's wasm files (`@litertjs/core/wasm/`).
`parity.html` is a self-test page: it runs every signature once and expects LiteRT.js under
`litert/` (`tfport parity {directory}/{model_file} --golden DIR --runtime chromium` serves it and
checks the outputs against the SavedModel's).
"""


def _example(spec: dict) -> str:
    shape = [1 if d == -1 else d for d in spec["shape"]] or []
    size = 1
    for d in shape:
        size *= d
    return f"{{ data: new {TS_DATA.get(spec['dtype'], 'Float32Array')}({size}), shape: {json.dumps(shape)} }}"
