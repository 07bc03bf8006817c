"""Tables filled from vocabulary files, folded into constants, answer exactly as before — also in LiteRT."""

import numpy as np
import pytest

from tfport.errors import BadInputError
from tfport.savedmodel.rewrites.apply import rewrite_saved_model
from tfport.savedmodel.tensorflow import tensorflow

WORDS = ["apple", "banana", "cherry", "date", "elderberry"]


def fold(model, out):
    """The table notes of rewriting `model` into `out`."""
    prefix = "folded vocabulary table into the graph: "
    return [note.removeprefix(prefix) for note in rewrite_saved_model(model, out)]


def save(module, path):
    tf = tensorflow()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def serve(path, **inputs):
    tf = tensorflow()
    outputs = tf.saved_model.load(str(path)).signatures["serving_default"](**inputs)
    return {name: tensor.numpy().tolist() for name, tensor in outputs.items()}


def word_ids_model(tmp_path):
    """string -> int64: the line number of a word in a one-word-per-line vocabulary, -1 if absent."""
    tf = tensorflow()
    vocabulary = tmp_path / "vocabulary.txt"
    vocabulary.write_text("\n".join(WORDS) + "\n")

    class WordIds(tf.Module):
        def __init__(self):
            initializer = tf.lookup.TextFileInitializer(str(vocabulary), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                                        tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
            self.table = tf.lookup.StaticHashTable(initializer, default_value=-1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="word")])
        def serve(self, word):
            return {"ids": self.table.lookup(word)}

    return save(WordIds(), tmp_path / "model")


def test_folded_word_table_answers_like_the_original_in_tensorflow_and_litert(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    tf = tensorflow()
    model = word_ids_model(tmp_path)
    assert fold(model, tmp_path / "folded") == ["vocabulary.txt: 5 entries"]
    assert not (tmp_path / "folded" / "fingerprint.pb").exists(), "the content changed: no stale fingerprint"

    words = ["cherry", "kiwi", "apple", "elderberry", ""]
    expected = [2, -1, 0, 4, -1]
    assert serve(tmp_path / "folded", word=tf.constant(words)) == serve(model, word=tf.constant(words))
    assert serve(tmp_path / "folded", word=tf.constant(words)) == {"ids": expected}

    flatbuffer = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "folded")).convert()
    runner = Interpreter(model_content=flatbuffer).get_signature_runner("serving_default")
    assert runner(word=np.array([w.encode() for w in words], dtype=object))["ids"].tolist() == expected


def test_model_without_tables_is_not_copied(tmp_path):
    tf = tensorflow()

    class Double(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            return {"y": 2 * x}

    assert fold(save(Double(), tmp_path / "model"), tmp_path / "folded") == []
    assert not (tmp_path / "folded").exists()


def test_tab_separated_columns_with_integer_values(tmp_path):
    tf = tensorflow()
    prices = tmp_path / "prices.tsv"
    prices.write_text("apple\t30\nbanana\t12\ncherry\t99\n")

    class Prices(tf.Module):
        def __init__(self):
            initializer = tf.lookup.TextFileInitializer(str(prices), tf.string, 0, tf.int64, 1, delimiter="\t")
            self.table = tf.lookup.StaticHashTable(initializer, default_value=-1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="fruit")])
        def serve(self, fruit):
            return {"price": self.table.lookup(fruit)}

    model = save(Prices(), tmp_path / "model")
    assert fold(model, tmp_path / "folded") == ["prices.tsv: 3 entries"]
    fruit = tf.constant(["cherry", "kiwi", "apple"])
    assert serve(tmp_path / "folded", fruit=fruit) == serve(model, fruit=fruit) == {"price": [99, -1, 30]}


def test_each_table_gets_its_own_file_and_types(tmp_path):
    """Two asset files and two tables of different key/value types in one model."""
    tf = tensorflow()
    (tmp_path / "words.txt").write_text("\n".join(WORDS) + "\n")
    (tmp_path / "prices.tsv").write_text("apple\t30\nbanana\t12\n")

    class Shop(tf.Module):
        def __init__(self):
            names = tf.lookup.TextFileInitializer(str(tmp_path / "words.txt"), tf.int64, -1, tf.string, -2, vocab_size=3)
            prices = tf.lookup.TextFileInitializer(str(tmp_path / "prices.tsv"), tf.string, 0, tf.int64, 1)
            self.names = tf.lookup.StaticHashTable(names, default_value="?")
            self.prices = tf.lookup.StaticHashTable(prices, default_value=-1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="id"),
                                      tf.TensorSpec([None], tf.string, name="fruit")])
        def serve(self, id, fruit):
            return {"name": self.names.lookup(id), "price": self.prices.lookup(fruit)}

    model = save(Shop(), tmp_path / "model")
    assert sorted(fold(model, tmp_path / "folded")) == ["prices.tsv: 2 entries",
                                                                          "words.txt: 3 entries"]
    inputs = {"id": tf.constant([2, 4, 0], tf.int64), "fruit": tf.constant(["banana", "date"])}
    assert serve(tmp_path / "folded", **inputs) == serve(model, **inputs) == {
        "name": [b"cherry", b"?", b"apple"], "price": [12, -1]}


def test_unreadable_vocabulary_names_the_file(tmp_path):
    model = word_ids_model(tmp_path)
    (model / "assets" / "vocabulary.txt").write_text("apple\n\nbanana\n")  # TensorFlow rejects empty lines
    with pytest.raises(BadInputError, match=r"assets/vocabulary\.txt.*empty line"):
        fold(model, tmp_path / "folded")
    assert not (tmp_path / "folded").exists()
