"""tinyflash: TensorFlow/Keras model → full-int8 TFLite → microcontroller firmware, verified on the device."""

__version__ = "0.1.0"
