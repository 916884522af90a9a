"""SavedModel exports in the layout TensorFlow Serving reads, and its REST format."""
