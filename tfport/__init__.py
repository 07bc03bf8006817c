"""tfport: port one TensorFlow SavedModel to every deployment target and prove each port."""

from tfport.savedmodel.tensorflow import set_environment

__version__ = "0.1.0"

set_environment()  # before any module of tfport imports TensorFlow, whichever that is
