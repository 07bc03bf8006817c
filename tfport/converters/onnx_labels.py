"""The labels tfport writes into each .onnx file's metadata_props, so that a file copied away from
its tfport.json still runs under the SavedModel's names (read by tfport.targets.onnx)."""

SIGNATURE = "tfport.signature"
INPUTS = "tfport.inputs"  # JSON {onnx input name: SavedModel input key}
OUTPUTS = "tfport.outputs"  # JSON {onnx output name: SavedModel output key}
ALIASES = "tfport.aliases"  # JSON [signatures answered by this file too]
