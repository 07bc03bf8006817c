"""Small real SavedModels, built the ways users build theirs. Each builder writes to `path`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import quadrants  # examples/quadrants.py

from tfport.savedmodel.tensorflow import tensorflow

VOCABULARY = ["apple", "banana", "cherry", "date", "elderberry"]


def _keras():
    tensorflow()
    import keras

    keras.utils.set_random_seed(7)
    return keras


def keras_mlp(path: Path) -> Path:
    """Keras 3 model exported with `model.export` (one `serve` signature)."""
    keras = _keras()
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)])
    model.export(str(path), verbose=False)
    return path


def dict_io(path: Path) -> Path:
    """Two named inputs, two named outputs, through a tf.Module signature taking a dict."""
    tf = tensorflow()

    class DictModel(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.random.stateless_normal([4, 3], seed=[1, 2]))

        @tf.function(input_signature=[{"features": tf.TensorSpec([None, 4], tf.float32, name="features"),
                                       "bias": tf.TensorSpec([None, 3], tf.float32, name="bias")}])
        def serve(self, inputs):
            logits = tf.matmul(inputs["features"], self.w) + inputs["bias"]
            return {"probabilities": tf.nn.softmax(logits), "total": tf.reduce_sum(logits, axis=1)}

    module = DictModel()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def two_signatures(path: Path) -> Path:
    tf = tensorflow()

    class TwoSignatures(tf.Module):
        def __init__(self):
            self.scale = tf.Variable([2.0, -1.0, 0.5])

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def scale_it(self, x):
            return {"scaled": x * self.scale}

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def norm(self, x):
            return {"norm": tf.sqrt(tf.reduce_sum(tf.square(x * self.scale), axis=1))}

    module = TwoSignatures()
    tf.saved_model.save(module, str(path), signatures={"scale": module.scale_it, "norm": module.norm})
    return path


def lstm(path: Path) -> Path:
    keras = _keras()
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(8), keras.layers.Dense(2)])
    model.export(str(path), verbose=False)
    return path


def gru(path: Path) -> Path:
    keras = _keras()
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.GRU(8), keras.layers.Dense(2)])
    model.export(str(path), verbose=False)
    return path


def embedding_gru(path: Path) -> Path:
    """Token ids into an Embedding and a GRU: a text classifier's shape."""
    keras = _keras()
    model = keras.Sequential([
        keras.Input((7,), dtype="int32"), keras.layers.Embedding(20, 4), keras.layers.GRU(6), keras.layers.Dense(2),
    ])
    model.export(str(path), verbose=False)
    return path


def tf_keras_lstm(path: Path) -> Path:
    """A legacy Keras 2 LSTM (tf_keras `model.save`): its fused form maps to TFLite's sequence op."""
    tensorflow()
    import tf_keras

    tf_keras.utils.set_random_seed(7)
    model = tf_keras.Sequential([tf_keras.Input((5, 3)), tf_keras.layers.LSTM(8), tf_keras.layers.Dense(2)])
    model.save(str(path))
    return path


def gelu(path: Path) -> Path:
    """Keras 3's exact GELU, which lowers to Erfc: a case converters trip on."""
    keras = _keras()
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="gelu"), keras.layers.Dense(2)])
    model.export(str(path), verbose=False)
    return path


def embedding(path: Path) -> Path:
    """An integer token input into an Embedding."""
    keras = _keras()
    model = keras.Sequential([
        keras.Input((6,), dtype="int32"), keras.layers.Embedding(10, 4),
        keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2),
    ])
    model.export(str(path), verbose=False)
    return path


def string_vocabulary(path: Path) -> Path:
    """A string input looked up in a table initialized from a vocabulary asset file."""
    tf = tensorflow()
    vocabulary_file = path.parent / f"{path.name}-vocabulary.txt"
    vocabulary_file.write_text("\n".join(VOCABULARY) + "\n")

    class Lookup(tf.Module):
        def __init__(self):
            initializer = tf.lookup.TextFileInitializer(
                str(vocabulary_file), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
            self.table = tf.lookup.StaticHashTable(initializer, default_value=-1)
            self.embedding = tf.Variable(tf.random.stateless_normal([len(VOCABULARY) + 1, 2], seed=[3, 4]))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="word")])
        def serve(self, word):
            ids = self.table.lookup(word)
            return {"ids": ids, "vector": tf.gather(self.embedding, ids + 1)}

    module = Lookup()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def constant_table(path: Path) -> Path:
    """A string input looked up in a table initialized from constants, with two signatures on it."""
    tf = tensorflow()

    class Lookup(tf.Module):
        def __init__(self):
            initializer = tf.lookup.KeyValueTensorInitializer(VOCABULARY, list(range(len(VOCABULARY))),
                                                              tf.string, tf.int64)
            self.table = tf.lookup.StaticHashTable(initializer, default_value=-1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="word")])
        def ids(self, word):
            return {"ids": self.table.lookup(word)}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="word")])
        def known(self, word):
            return {"known": self.table.lookup(word) >= 0}

    module = Lookup()
    tf.saved_model.save(module, str(path), signatures={"ids": module.ids, "known": module.known})
    return path


def control_flow(path: Path) -> Path:
    """tf.while_loop and tf.cond on a tensor with an unknown batch dimension."""
    tf = tensorflow()

    class Loop(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            def body(i, value):
                return i + 1, tf.cond(tf.reduce_mean(value) > 0.5, lambda: value * 0.9, lambda: value + 0.1)

            _, result = tf.while_loop(lambda i, _: i < 5, body, [tf.constant(0), x])
            return {"y": result}

    module = Loop()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def unknown_batch_cnn(path: Path) -> Path:
    """A small conv net with an unknown batch dimension."""
    keras = _keras()
    model = keras.Sequential([
        keras.Input((12, 12, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.MaxPooling2D(), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax"),
    ])
    model.export(str(path), verbose=False)
    return path


def einsum(path: Path) -> Path:
    """Einsum, as Keras' MultiHeadAttention uses it: TF.js's cpu backend has the kernel, wasm does not."""
    tf = tensorflow()

    class Attention(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.random.stateless_normal([4, 2, 3], seed=[3, 4]))

        @tf.function(input_signature=[tf.TensorSpec([None, 5, 4], tf.float32, name="tokens")])
        def serve(self, tokens):
            return {"heads": tf.einsum("btd,dhk->bthk", tokens, self.w)}

    module = Attention()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


# Signatures as models from elsewhere have them: names converters lose, dtypes and shapes they trip on


def same_shaped_inputs(path: Path) -> Path:
    """Three inputs of one dtype and shape and two same-shaped dict outputs: tensorflowjs cannot
    tell them apart by dtype and shape and keys them by tensor name (`a:0`, `Identity_1:0`)."""
    tf = tensorflow()

    class Same(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name=n) for n in ("a", "b", "c")])
        def serve(self, a, b, c):
            return {"sum": a + 2 * b + 3 * c, "product": a * b - c}

    module = Same()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def scalar_input(path: Path) -> Path:
    """A 0-d input beside a batch: it must reach every runtime with shape []."""
    tf = tensorflow()

    class Scale(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x"),
                                      tf.TensorSpec([], tf.float32, name="temperature")])
        def serve(self, x, temperature):
            return {"y": tf.nn.softmax(x / (temperature + 0.5))}

    module = Scale()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def complex_output(path: Path) -> Path:
    """A spectrum (complex64) and its magnitude, as audio front ends compute them."""
    tf = tensorflow()

    class Spectrum(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="wave")])
        def serve(self, wave):
            spectrum = tf.signal.rfft(wave)
            return {"spectrum": spectrum, "magnitude": tf.abs(spectrum)}

    module = Spectrum()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def upper_case_keys(path: Path) -> Path:
    """Signature, input and output keys with capitals: TensorFlow lower-cases the tensor names."""
    tf = tensorflow()

    class Upper(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="X")])
        def predict(self, X):  # noqa: N803 - the user's own name
            return {"Y": X * 2.0 - 1.0}

    module = Upper()
    tf.saved_model.save(module, str(path), signatures={"Predict": module.predict})
    return path


def with_asserts(path: Path) -> Path:
    """Token ids checked with Assert before an embedding lookup and the result with CheckNumerics,
    as Hugging Face's BERT checks its ids."""
    tf = tensorflow()

    class Embed(tf.Module):
        def __init__(self):
            self.table = tf.Variable(tf.random.stateless_normal([10, 4], seed=[5, 6]))

        @tf.function(input_signature=[tf.TensorSpec([None, 5], tf.int32, name="input_ids")])
        def serve(self, input_ids):
            tf.debugging.assert_less(input_ids, tf.constant(10), message="input_ids must be < vocabulary size")
            embedded = tf.debugging.check_numerics(tf.gather(self.table, input_ids), "embedding")
            return {"pooled": tf.reduce_mean(embedded, axis=1)}

    module = Embed()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def string_output(path: Path) -> Path:
    """Ids of rank 2 in, words out through a constant table (as StringLookup(invert=True) does)."""
    tf = tensorflow()

    class Words(tf.Module):
        def __init__(self):
            initializer = tf.lookup.KeyValueTensorInitializer(tf.range(len(VOCABULARY), dtype=tf.int64),
                                                              tf.constant(VOCABULARY))
            self.table = tf.lookup.StaticHashTable(initializer, default_value="[UNK]")

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.int64, name="ids")])
        def serve(self, ids):
            return {"words": self.table.lookup(ids), "known": tf.reduce_sum(tf.cast(ids < 5, tf.int32), axis=1)}

    module = Words()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def int32_table(path: Path) -> Path:
    """A tf.Module whose table maps strings to int32 (tf2onnx and TFLite builtins take only int64)."""
    tf = tensorflow()

    class Ids(tf.Module):
        def __init__(self):
            initializer = tf.lookup.KeyValueTensorInitializer(VOCABULARY, tf.range(len(VOCABULARY), dtype=tf.int32))
            self.table = tf.lookup.StaticHashTable(initializer, default_value=-1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="word")])
        def serve(self, word):
            ids = self.table.lookup(word)
            return {"ids": ids, "next": ids + 1}

    module = Ids()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def tf_keras_two_inputs(path: Path) -> Path:
    """A legacy Keras 2 (tf_keras) functional model with two same-shaped inputs and dict outputs,
    saved with `model.save` as a SavedModel."""
    tensorflow()
    import tf_keras

    tf_keras.utils.set_random_seed(7)
    left, right = tf_keras.Input((4,), name="left"), tf_keras.Input((4,), name="right")
    hidden = tf_keras.layers.Dense(8, activation="relu")(tf_keras.layers.Concatenate()([left, right]))
    outputs = {"scores": tf_keras.layers.Dense(3, name="scores")(hidden),
               "offsets": tf_keras.layers.Dense(3, name="offsets")(hidden)}
    tf_keras.Model([left, right], outputs).save(str(path))
    return path


def flex_only(path: Path) -> Path:
    """MatrixDeterminant: a TensorFlow op builtin TFLite lacks, available as a Select TF op."""
    tf = tensorflow()

    class Determinant(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3, 3], tf.float32, name="m")])
        def serve(self, m):
            return {"det": tf.linalg.det(m)}

    module = Determinant()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def unconvertible(path: Path) -> Path:
    """Erfinv: neither a builtin TFLite op nor a Select TF op."""
    tf = tensorflow()

    class InverseErf(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.math.erfinv(x * 0.5)}

    module = InverseErf()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


# Keras 3 layers that converters trip on


def grouped_conv(path: Path) -> Path:
    """Conv2D with groups: Keras 3 puts each in a jit_compile function. One with groups == input
    channels and two filters per channel (depthwise, multiplier 2), one with 2 groups of 4 channels."""
    keras = _keras()
    model = keras.Sequential([
        keras.Input((8, 8, 4)), keras.layers.Conv2D(8, 3, groups=4, padding="same"),
        keras.layers.Conv2D(6, 3, strides=2, groups=2),
    ])
    model.export(str(path), verbose=False)
    return path


def convnext_block(path: Path) -> Path:
    """A ConvNeXt block: 7x7 depthwise Conv2D (groups == channels), LayerNorm, GELU MLP, residual."""
    keras = _keras()
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(4, 7, groups=4, padding="same")(inputs)
    x = keras.layers.LayerNormalization(epsilon=1e-6)(x)
    x = keras.layers.Dense(16, activation="gelu")(x)
    outputs = keras.layers.Add()([inputs, keras.layers.Dense(4)(x)])
    keras.Model(inputs, outputs).export(str(path), verbose=False)
    return path


def keras_argmax(path: Path) -> Path:
    """`keras.ops.argmax` on the input itself, so -0.0 can be fed: its TF backend tests the sign bit
    with Bitcast and BitwiseAnd, and ranks -0.0 below +0.0."""
    keras = _keras()
    inputs = keras.Input((6,))
    keras.Model(inputs, keras.ops.argmax(inputs, axis=-1)).export(str(path), verbose=False)
    return path


def string_lookup_invert(path: Path) -> Path:
    """Keras 3 `StringLookup(invert=True)`: ids of shape [batch, 3] in, their words out."""
    keras = _keras()
    inputs = keras.Input((3,), dtype="int64")
    words = keras.layers.StringLookup(vocabulary=VOCABULARY, invert=True)(inputs)
    keras.Model(inputs, words).export(str(path), verbose=False)
    return path


def trained_cnn(path: Path) -> Path:
    """The README's example CNN, trained to find the bright quadrant: a model int8 must not break."""
    return quadrants.build(path)


def file_touching(path: Path) -> Path:
    """A model whose signature reads and writes files and prints to a file: `scan` must flag it."""
    tf = tensorflow()

    class Snoop(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="where")])
        def serve(self, where):
            secret = tf.io.read_file("/etc/hostname")
            tf.io.write_file(where, secret)
            tf.print(secret, output_stream="file:///tmp/tfport-scan-test.txt")
            return {"size": tf.strings.length(secret)}

    module = Snoop()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


# TF1 exports (tf.compat.v1)


def _tf1_saved_model(path: Path, build, signature: bool = True, estimator_main_op: bool = False) -> Path:
    """Export the graph `build(tf)` makes, -> (inputs, outputs), with SavedModelBuilder from a tf.compat.v1
    session: its variables get a Saver (save/SaveV2, save/RestoreV2 in the top-level graph). Tables are
    filled by the `table_initializer` collection alone, or by the main op an Estimator exports
    (Scaffold.default_local_init_op: local variables and tables)."""
    tf = tensorflow()
    v1 = tf.compat.v1
    with tf.Graph().as_default(), v1.Session() as session:
        inputs, outputs = build(tf)
        main_op = tf.group(v1.local_variables_initializer(), v1.tables_initializer()) if estimator_main_op else None
        session.run([v1.global_variables_initializer(), v1.tables_initializer()])
        signatures = {"serving_default": v1.saved_model.predict_signature_def(inputs, outputs)} if signature else None
        builder = v1.saved_model.Builder(str(path))
        builder.add_meta_graph_and_variables(session, [tf.saved_model.SERVING], signature_def_map=signatures,
                                             main_op=main_op)
        builder.save()
    return path


def _tf1_words(tf, value_dtype):
    """Words in; their ids from a constant table (-1 when unknown), an embedding and a dense layer of them out."""
    v1 = tf.compat.v1
    words = v1.placeholder(tf.string, [None], name="words")
    initializer = v1.lookup.KeyValueTensorInitializer(VOCABULARY, list(range(len(VOCABULARY))), tf.string, value_dtype)
    ids = v1.lookup.StaticHashTable(initializer, -1).lookup(words)
    embedding = v1.get_variable("embedding", initializer=tf.random.stateless_normal([len(VOCABULARY) + 1, 2], [3, 4]))
    kernel = v1.get_variable("kernel", initializer=tf.constant([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]))
    vector = tf.gather(embedding, tf.cast(ids, tf.int32) + 1)
    return {"words": words}, {"ids": ids, "dense": tf.nn.relu(tf.matmul(vector, kernel))}


def tf1_lookup(path: Path) -> Path:
    """SavedModelBuilder export without a main op: a string -> int64 table the table_initializer
    collection fills, variables, one signature."""
    return _tf1_saved_model(path, lambda tf: _tf1_words(tf, tf.int64))


def tf1_int32_lookup(path: Path) -> Path:
    """Estimator-style export (main op = local variables and tables) of a string -> int32 table."""
    return _tf1_saved_model(path, lambda tf: _tf1_words(tf, tf.int32), estimator_main_op=True)


def tf1_write_file(path: Path) -> Path:
    """A TF1 graph with variables (so a Saver) whose signature also writes a file: only that WriteFile is risky."""

    def build(tf):
        v1 = tf.compat.v1
        x = v1.placeholder(tf.float32, [None, 2], name="x")
        scale = v1.get_variable("scale", initializer=tf.constant([2.0, 3.0]))
        with tf.control_dependencies([tf.io.write_file("/tmp/tfport-tf1-log.txt", tf.strings.as_string(x[0, 0]),
                                                       name="log")]):
            return {"x": x}, {"y": tf.identity(x * scale)}

    return _tf1_saved_model(path, build)


def tf1_no_signature(path: Path) -> Path:
    """The table model exported by SavedModelBuilder without a signature_def_map."""
    return _tf1_saved_model(path, lambda tf: _tf1_words(tf, tf.int64), signature=False)


def module_no_signature(path: Path) -> Path:
    """A tf.Module saved without `signatures=`: its tf.function has no input_signature, so none is made."""
    tf = tensorflow()

    class Scale(tf.Module):
        def __init__(self):
            self.factor = tf.Variable(2.0)

        @tf.function
        def scale(self, x):
            return self.factor * x

    module = Scale()
    module.scale(tf.constant([1.0]))
    tf.saved_model.save(module, str(path))
    return path


def tf1_int32_keys(path: Path) -> Path:
    """Estimator-style export of an int32 -> string table: ids in, their words out ("?" when unknown)."""

    def build(tf):
        v1 = tf.compat.v1
        ids = v1.placeholder(tf.int32, [None], name="ids")
        initializer = v1.lookup.KeyValueTensorInitializer(list(range(len(VOCABULARY))), VOCABULARY, tf.int32, tf.string)
        return {"ids": ids}, {"words": v1.lookup.StaticHashTable(initializer, "?").lookup(ids)}

    return _tf1_saved_model(path, build, estimator_main_op=True)


# Models whose inputs must fit (issue 13)


def bert_style(path: Path) -> Path:
    """Token ids into a 100-row embedding, a 0/1 attention mask used additively, token types into a
    2-row embedding: one --int-range for all three would index past the token-type table."""
    tf = tensorflow()

    class Encoder(tf.Module):
        def __init__(self):
            self.words = tf.Variable(tf.random.stateless_normal([100, 8], seed=[1, 1]))
            self.types = tf.Variable(tf.random.stateless_normal([2, 8], seed=[2, 2]))
            self.dense = tf.Variable(tf.random.stateless_normal([8, 3], seed=[3, 3]))

        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.int32, name=n)
                                      for n in ("input_ids", "attention_mask", "token_type_ids")])
        def serve(self, input_ids, attention_mask, token_type_ids):
            hidden = tf.gather(self.words, input_ids) + tf.gather(self.types, token_type_ids)
            scores = tf.reduce_sum(hidden, axis=-1) + (1.0 - tf.cast(attention_mask, tf.float32)) * -1e4
            weights = tf.nn.softmax(scores, axis=-1)
            pooled = tf.reduce_sum(hidden * weights[..., tf.newaxis], axis=1)
            return {"logits": tf.matmul(pooled, self.dense)}

    module = Encoder()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def fully_convolutional(path: Path) -> Path:
    """A detector with unknown height and width whose receptive field (three 3x3 convs and a 2x2
    pooling: 12 px) exceeds the default 8 px."""
    keras = _keras()
    model = keras.Sequential([
        keras.Input((None, None, 3)), keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.Conv2D(2, 3), keras.layers.Softmax(),
    ])
    model.export(str(path), verbose=False)
    return path


def pixels_0_255(path: Path) -> Path:
    """Built-in preprocessing that expects 0–255 pixels (Keras Rescaling(1/255)), then a small CNN."""
    keras = _keras()
    model = keras.Sequential([
        keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3),
    ])
    model.export(str(path), verbose=False)
    return path


def gpt2_style(path: Path) -> Path:
    """Token ids (a 50-row embedding plus position embeddings) and a padding mask, causal attention
    pooled at the last real token."""
    tf = tensorflow()

    class Decoder(tf.Module):
        def __init__(self):
            self.tokens = tf.Variable(tf.random.stateless_normal([50, 8], seed=[4, 4]))
            self.positions = tf.Variable(tf.random.stateless_normal([7, 8], seed=[5, 5]))
            self.head = tf.Variable(tf.random.stateless_normal([8, 50], seed=[6, 6]))

        @tf.function(input_signature=[tf.TensorSpec([None, 7], tf.int64, name="input_ids"),
                                      tf.TensorSpec([None, 7], tf.int64, name="padding_mask")])
        def serve(self, input_ids, padding_mask):
            hidden = tf.gather(self.tokens, input_ids) + self.positions
            scores = tf.matmul(hidden, hidden, transpose_b=True) / 8.0
            causal = tf.linalg.band_part(tf.ones([7, 7]), -1, 0)
            keep = causal * tf.cast(padding_mask, tf.float32)[:, tf.newaxis, :]
            attended = tf.matmul(tf.nn.softmax(scores + (1.0 - keep) * -1e4), hidden)
            last = tf.reduce_sum(tf.cast(padding_mask, tf.int32), axis=1) - 1
            return {"next_token_logits": tf.matmul(tf.gather(attended, last, batch_dims=1), self.head)}

    module = Decoder()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def text_tokens(path: Path) -> Path:
    """Raw string tokens through a Keras 3 StringLookup, an Embedding and pooling: no vocabulary
    file, the words live in the lookup's table."""
    keras = _keras()
    tokens = keras.Input((4,), dtype="string", name="tokens")
    ids = keras.layers.StringLookup(vocabulary=["the", "cat", "sat", "on", "mat"])(tokens)
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(6, 4)(ids))
    keras.Model(tokens, keras.layers.Dense(2)(pooled)).export(str(path), verbose=False)
    return path


def normalized_features(path: Path) -> Path:
    """Keras Normalization fitted to features far from [0, 1) (means 10, -5, 100; stds 2, 1, 50),
    then a Dense: [0, 1) inputs would all sit at one point far outside its data."""
    keras = _keras()
    model = keras.Sequential([
        keras.Input((3,), name="features"), keras.layers.Normalization(mean=[10.0, -5.0, 100.0],
                                                                        variance=[4.0, 1.0, 2500.0]),
        keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(2),
    ])
    model.export(str(path), verbose=False)
    return path


def mutable_vocabulary(path: Path) -> Path:
    """Words in a MutableHashTable filled before saving: its keys live only in the checkpoint."""
    tf = tensorflow()

    class Words(tf.Module):
        def __init__(self):
            self.table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=0)
            self.table.insert(tf.constant(["alpha", "beta", "gamma"]), tf.constant([1, 2, 3], tf.int64))
            self.embedding = tf.Variable(tf.random.stateless_normal([4, 2], seed=[7, 7]))

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.string, name="words")])
        def serve(self, words):
            return {"pooled": tf.reduce_sum(tf.gather(self.embedding, self.table.lookup(words)), axis=1)}

    module = Words()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def uint8_image(path: Path) -> Path:
    """8-bit pixels in (NHWC, 3 channels), converted to floats inside the model."""
    tf = tensorflow()

    class Classifier(tf.Module):
        def __init__(self):
            self.weights = tf.Variable(tf.random.stateless_normal([3, 2], seed=[8, 8]))

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 3], tf.uint8, name="image")])
        def serve(self, image):
            return {"scores": tf.matmul(tf.reduce_mean(tf.cast(image, tf.float32), axis=[1, 2]), self.weights)}

    module = Classifier()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


# Noise floors and deliberate changes (issue 13)


def _gelu_mlp(path: Path, change: str | None = None) -> Path:
    """16 -> 64 exact GELU -> 64 tanh -> 4, well conditioned; `change` makes the copy a wrong port
    would come from: one first-layer weight times 1.01, approximate GELU, or the last bias dropped."""
    keras = _keras()

    def build(approximate: bool):
        gelu = lambda x: keras.activations.gelu(x, approximate=approximate)  # noqa: E731
        return keras.Sequential([keras.Input((16,), name="x"), keras.layers.Dense(64, activation=gelu),
                                 keras.layers.Dense(64, activation="tanh"), keras.layers.Dense(4)])

    weights = build(False).get_weights()
    weights[-1] = weights[-1] + 0.1 * np.arange(1, 5, dtype=np.float32)  # a bias worth dropping
    if change == "weight_scaled":
        weights[0][3, 5] *= 1.01
    if change == "bias_dropped":
        weights[-1] = np.zeros_like(weights[-1])
    model = build(change == "approximate_gelu")
    model.set_weights(weights)
    model.export(str(path), verbose=False)
    return path


def gelu_mlp(path: Path) -> Path:
    return _gelu_mlp(path)


def gelu_mlp_weight_scaled(path: Path) -> Path:
    return _gelu_mlp(path, "weight_scaled")


def gelu_mlp_approximate_gelu(path: Path) -> Path:
    return _gelu_mlp(path, "approximate_gelu")


def gelu_mlp_bias_dropped(path: Path) -> Path:
    return _gelu_mlp(path, "bias_dropped")


def deep_tanh(path: Path) -> Path:
    """Ill conditioned: 16 tanh layers of 64 with weights of gain 6 (the chaotic regime): correct
    float32 ports differ by 6-34x the fixed tolerance (12 layers gave 0.9-1.8x on TensorFlow 2.21)."""
    tf = tensorflow()

    class DeepTanh(tf.Module):
        def __init__(self):
            self.layers = [tf.Variable(tf.random.stateless_normal([16 if i == 0 else 64, 64], seed=[i, 13])
                                       * (6.0 / np.sqrt(16 if i == 0 else 64))) for i in range(16)]
            self.head = tf.Variable(tf.random.stateless_normal([64, 4], seed=[99, 13]) / 8.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 16], tf.float32, name="x")])
        def serve(self, x):
            for weights in self.layers:
                x = tf.tanh(tf.matmul(x, weights))
            return {"y": tf.matmul(x, self.head)}

    module = DeepTanh()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def _layered_cnn(path: Path, conv2_scale: float = 1.0) -> Path:
    """conv1 -> relu -> conv2 -> relu -> mean -> dense, with op names fixed by name scopes, so a copy
    built with `conv2_scale` (conv2's kernel scaled) has the same op names as the original."""
    tf = tensorflow()

    class LayeredCnn(tf.Module):
        def __init__(self):
            self.conv1 = tf.Variable(tf.random.stateless_normal([3, 3, 3, 8], seed=[1, 2]) / 4)
            self.conv2 = tf.Variable(tf.random.stateless_normal([3, 3, 8, 8], seed=[3, 4]) / 8 * conv2_scale)
            self.dense = tf.Variable(tf.random.stateless_normal([8, 3], seed=[5, 6]) / 3)

        @tf.function(input_signature=[tf.TensorSpec([None, 12, 12, 3], tf.float32, name="image")])
        def serve(self, image):
            with tf.name_scope("conv1"):
                x = tf.nn.relu(tf.nn.conv2d(image, self.conv1, 1, "SAME"))
            with tf.name_scope("conv2"):
                x = tf.nn.relu(tf.nn.conv2d(x, self.conv2, 1, "SAME"))
            with tf.name_scope("head"):
                return {"scores": tf.matmul(tf.reduce_mean(x, axis=[1, 2]), self.dense)}

    module = LayeredCnn()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def layered_cnn(path: Path) -> Path:
    return _layered_cnn(path)


def layered_cnn_conv2_scaled(path: Path) -> Path:
    return _layered_cnn(path, conv2_scale=1.05)


# Models that took Select TF ops (Flex) or failed to load on TensorFlow ≥ 2.20 (issue 22)

def stft_frontend(path: Path) -> Path:
    """An audio front end: STFT of a waveform (Hann window), magnitude, a mel-style filter bank, log."""
    tf = tensorflow()

    class FrontEnd(tf.Module):
        def __init__(self):
            self.filters = tf.Variable(tf.abs(tf.random.stateless_normal([33, 8], seed=[3, 1])))

        @tf.function(input_signature=[tf.TensorSpec([None, 512], tf.float32, name="waveform")])
        def serve(self, waveform):
            spectrum = tf.signal.stft(waveform, frame_length=64, frame_step=32, fft_length=64)
            mel = tf.tensordot(tf.abs(spectrum), self.filters, axes=1)
            return {"log_mel": tf.math.log(mel + 1e-3)}

    module = FrontEnd()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def combined_nms(path: Path) -> Path:
    """Detector post-processing: boxes shared by all classes, per-class scores, combined NMS."""
    tf = tensorflow()

    class PostProcess(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 24, 1, 4], tf.float32, name="boxes"),
                                      tf.TensorSpec([None, 24, 3], tf.float32, name="scores")])
        def serve(self, boxes, scores):
            corners = tf.concat([boxes[..., :2], boxes[..., :2] + 0.2 + 0.3 * boxes[..., 2:]], axis=-1)
            nmsed = tf.image.combined_non_max_suppression(
                corners, scores, max_output_size_per_class=4, max_total_size=6, iou_threshold=0.5,
                score_threshold=0.1)
            return {"detection_boxes": nmsed.nmsed_boxes, "detection_scores": nmsed.nmsed_scores,
                    "detection_classes": nmsed.nmsed_classes, "num_detections": nmsed.valid_detections}

    module = PostProcess()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def tensorarray_decoder(path: Path) -> Path:
    """A greedy decoder: a tf.while_loop writing one token and one score per step to TensorArrays."""
    tf = tensorflow()

    class Decoder(tf.Module):
        def __init__(self):
            self.recurrent = tf.Variable(tf.random.stateless_normal([8, 8], seed=[5, 2]) * 0.5)
            self.embedding = tf.Variable(tf.random.stateless_normal([6, 8], seed=[5, 3]))
            self.head = tf.Variable(tf.random.stateless_normal([8, 6], seed=[5, 4]))

        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="state")])
        def serve(self, state):
            tokens = tf.TensorArray(tf.int32, size=5)
            scores = tf.TensorArray(tf.float32, size=5)

            def step(i, state, tokens, scores):
                logits = tf.matmul(state, self.head)
                token = tf.argmax(logits, axis=-1, output_type=tf.int32)
                state = tf.tanh(tf.matmul(state, self.recurrent) + tf.gather(self.embedding, token))
                return i + 1, state, tokens.write(i, token), scores.write(i, tf.reduce_max(logits, axis=-1))

            _, _, tokens, scores = tf.while_loop(lambda i, *_: i < 5, step, [0, state, tokens, scores])
            return {"tokens": tf.transpose(tokens.stack()), "scores": tf.transpose(scores.stack())}

    module = Decoder()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def text_vectorization(path: Path) -> Path:
    """A Keras 3 text classifier taking raw sentences: TextVectorization (lower-case, strip
    punctuation, split on whitespace, vocabulary), Embedding, pooling, Dense; `model.export`."""
    keras = _keras()
    vectorize = keras.layers.TextVectorization(output_sequence_length=6,
                                               vocabulary=["the", "cat", "sat", "on", "mat", "dog"])
    text = keras.Input((1,), dtype="string", name="text")
    ids = vectorize(text)
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(8, 4)(ids))
    keras.Model(text, keras.layers.Dense(2)(pooled)).export(str(path), verbose=False)
    return path


def attention_mask_none(path: Path) -> Path:
    """Self-attention whose padding mask is sliced `mask[:, None, None, :]` on a tensor with two
    unknown dims (batch and length), as keras-hub's and Hugging Face's transformers do."""
    tf = tensorflow()

    class Attention(tf.Module):
        def __init__(self):
            self.qkv = tf.Variable(tf.random.stateless_normal([3, 8, 8], seed=[6, 1]) * 0.4)

        @tf.function(input_signature=[tf.TensorSpec([None, None, 8], tf.float32, name="hidden"),
                                      tf.TensorSpec([None, None], tf.float32, name="attention_mask")])
        def serve(self, hidden, attention_mask):
            q, k, v = (tf.matmul(hidden, self.qkv[i]) for i in range(3))
            scores = tf.matmul(q, k, transpose_b=True)[:, None, :, :] / 8.0 ** 0.5
            scores += (1.0 - attention_mask[:, None, None, :]) * -1e4
            return {"attended": tf.matmul(tf.nn.softmax(scores)[:, 0], v)}

    module = Attention()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def shifted_windows(path: Path) -> Path:
    """Swin's shifted windows: tf.roll on both spatial axes, a 1x1 mixing, rolled back."""
    tf = tensorflow()

    class Shift(tf.Module):
        def __init__(self):
            self.mix = tf.Variable(tf.random.stateless_normal([4, 4], seed=[7, 1]))

        @tf.function(input_signature=[tf.TensorSpec([None, 6, 6, 4], tf.float32, name="features")])
        def serve(self, features):
            shifted = tf.roll(features, shift=[-2, -2], axis=[1, 2])
            mixed = tf.nn.relu(tf.tensordot(shifted, self.mix, axes=1) + shifted[:, :1])
            return {"features_out": tf.roll(mixed, shift=[2, 2], axis=[1, 2]) + tf.roll(features, 1, axis=3)}

    module = Shift()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def causal_mask(path: Path) -> Path:
    """CLIP's causal attention mask: a filled matrix, band_part for the upper triangle, set_diag to
    zero it on the diagonal (MatrixSetDiagV3), added to the scores of an input of unknown length."""
    tf = tensorflow()

    class Causal(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, 8], tf.float32, name="hidden")])
        def serve(self, hidden):
            length = tf.shape(hidden)[1]
            mask = tf.linalg.band_part(tf.fill((length, length), -10000.0), 0, -1)
            mask = tf.linalg.set_diag(mask, tf.zeros((length,)))
            scores = tf.matmul(hidden, hidden, transpose_b=True) / 8.0 + mask
            return {"attended": tf.matmul(tf.nn.softmax(scores), hidden)}

    module = Causal()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def print_left_in(path: Path) -> Path:
    """A `tf.print` left in a model (PrintV2 to the log, StringFormat): debugging nobody removed."""
    tf = tensorflow()

    class Printing(tf.Module):
        def __init__(self):
            self.weights = tf.Variable(tf.random.stateless_normal([4, 3], seed=[9, 1]))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            hidden = tf.matmul(x, self.weights)
            tf.print("hidden mean:", tf.reduce_mean(hidden))
            return {"y": tf.nn.relu(hidden)}

    module = Printing()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def complex_arithmetic(path: Path) -> Path:
    """complex64 arithmetic between float inputs and float outputs: a filter applied as a product
    of spectra, its conjugate energy, real and imaginary parts."""
    tf = tensorflow()

    class Filter(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="real"),
                                      tf.TensorSpec([None, 8], tf.float32, name="imag")])
        def serve(self, real, imag):
            z = tf.complex(real, imag)
            response = tf.complex(tf.linspace(1.0, 0.2, 8), tf.linspace(-0.5, 0.5, 8))
            filtered = z * response + z * z / (tf.math.conj(z) + 2.0)
            energy = tf.math.real(filtered * tf.math.conj(filtered))
            return {"real": tf.math.real(filtered), "imag": tf.math.imag(filtered), "energy": energy,
                    "magnitude": tf.abs(filtered - z)}

    module = Filter()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def tf_keras_with_optimizer(path: Path) -> Path:
    """A legacy Keras (tf_keras) model compiled with a legacy optimizer, trained a few steps and
    saved with `model.save`: its object graph holds the optimizer and its slot variables."""
    tensorflow()
    import tf_keras

    tf_keras.utils.set_random_seed(7)
    model = tf_keras.Sequential([tf_keras.Input((4,), name="features"), tf_keras.layers.Dense(8, activation="relu"),
                                 tf_keras.layers.Dense(2)])
    model.compile(optimizer=tf_keras.optimizers.legacy.Adam(0.01), loss="mse")
    samples = np.random.default_rng(7).normal(size=(32, 4)).astype(np.float32)
    model.fit(samples, samples[:, :2] * 2.0, epochs=2, verbose=0)
    model.save(str(path))
    return path


def keras_hub_bert(path: Path) -> Path:
    """A keras-hub-style BERT backbone in Keras 3: token_ids into a 1,000-row embedding,
    segment_ids into a 2-row one, a learned position embedding sliced to the sequence length,
    a padding mask into self-attention, sequence length unknown. Keras 3's Embedding looks rows up
    with `ops.take`, which puts a SelectV2 (for negative ids) before each GatherV2."""
    keras = _keras()
    from keras import layers, ops

    class PositionEmbedding(layers.Layer):
        def build(self, input_shape):
            self.positions = self.add_weight(shape=(64, 16), initializer="glorot_uniform", name="positions")

        def call(self, tokens):
            return ops.expand_dims(self.positions[: ops.shape(tokens)[1]], 0)

    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    segment_ids = keras.Input((None,), dtype="int32", name="segment_ids")
    padding_mask = keras.Input((None,), dtype="int32", name="padding_mask")
    tokens = layers.Embedding(1000, 16, name="token_embedding")(token_ids)
    hidden = tokens + layers.Embedding(2, 16, name="segment_embedding")(segment_ids) + PositionEmbedding()(tokens)
    hidden = layers.LayerNormalization()(hidden)
    mask = ops.cast(padding_mask, "bool")
    attended = layers.MultiHeadAttention(2, 8)(hidden, hidden, attention_mask=mask[:, None, :] & mask[:, :, None])
    hidden = layers.LayerNormalization()(hidden + attended)
    pooled = layers.Dense(16, activation="tanh")(hidden[:, 0])
    model = keras.Model({"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
                        {"sequence_output": hidden, "pooled_output": pooled})
    model.export(str(path), verbose=False)
    return path


def waveform_frontend(path: Path) -> Path:
    """A wav2vec2-style feature encoder on a raw waveform of unknown length: seven strided
    convolutions (receptive field 400 samples, stride 320), 'valid' padding. On 8 samples it
    returns an empty [1, 0, 32] instead of raising."""
    keras = _keras()
    from keras import layers, ops

    waveform = keras.Input((None,), name="input_values")
    hidden = ops.expand_dims(waveform, -1)
    for kernel, stride in ((10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2)):
        hidden = layers.Conv1D(32, kernel, strides=stride, activation="gelu")(hidden)
    model = keras.Model(waveform, layers.LayerNormalization()(hidden))
    model.export(str(path), verbose=False)
    return path


def two_branch_cond(path: Path) -> Path:
    """`if x > 0: … else: …` on the input's sum (autograph makes it a tf.cond): [0, 1) inputs
    never take the else branch."""
    tf = tensorflow()

    class Branches(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.random.stateless_normal([4, 3], seed=[8, 8]))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            if tf.reduce_sum(x) > 0:
                y = tf.matmul(x, self.w)
            else:
                y = tf.matmul(tf.square(x), self.w) - 1.0
            return {"y": y}

    module = Branches()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def broadcast_bias_cnn(path: Path) -> Path:
    """A convolution plus a (1, 1, C) weight and a dense layer plus a batch of biases — what
    tensorflowjs fuses into _FusedConv2D / _FusedMatMul with a bias of rank 4 and rank 2, which
    TF.js's wasm backend refuses."""
    tf = tensorflow()

    class Net(tf.Module):
        def __init__(self):
            self.kernel = tf.Variable(tf.random.stateless_normal([3, 3, 2, 4], seed=[9, 1]))
            self.offset = tf.Variable(tf.random.stateless_normal([1, 1, 1, 4], seed=[9, 2]))
            self.dense = tf.Variable(tf.random.stateless_normal([4, 3], seed=[9, 3]))

        @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 2], tf.float32, name="image"),
                                      tf.TensorSpec([None, 3], tf.float32, name="shift")])
        def serve(self, image, shift):
            features = tf.nn.relu(tf.nn.conv2d(image, self.kernel, 1, "SAME") + self.offset)
            return {"scores": tf.nn.relu(tf.matmul(tf.reduce_mean(features, axis=[1, 2]), self.dense) + shift)}

    module = Net()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path
