"""Converter failures that only say "check error log" get TensorFlow's logged reason."""

from tfport.logfile import native_errors, native_stderr_to_log, with_native_reason
from tfport.savedmodel.tensorflow import tensorflow


def test_grappler_reason_is_taken_from_the_native_log():
    """Grappler (run by tf2onnx and tensorflowjs) refuses a graph whose init node is missing with
    only "check error log"; the reason is on its C++ stderr, which tfport sends to its log."""
    tf = tensorflow()
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.framework import meta_graph
    from tensorflow.python.grappler import tf_optimizer

    graph = tf.Graph()
    with graph.as_default():
        tf.identity(tf.constant(1.0), name="y")
    meta = meta_graph.create_meta_graph_def(graph_def=graph.as_graph_def(), graph=graph)
    meta.collection_def["table_initializer"].node_list.value.append("key_value_init")
    meta.collection_def["train_op"].node_list.value.append("y")
    with native_stderr_to_log(), native_errors() as logged:
        try:
            tf_optimizer.OptimizeGraph(config_pb2.ConfigProto(), meta)
        except Exception as exc:  # grappler raises InvalidArgumentError
            message = str(exc).strip().splitlines()[-1]
    assert "check error log" in message
    assert with_native_reason(message, logged()).endswith(
        "TensorFlow logged: Init node key_value_init doesn't exist in graph")
    assert with_native_reason("no conversion for Foo", ["anything"]) == "no conversion for Foo"
